//go:build !linux

package bolt

import "os"

// fdatasync flushes f's data and metadata.
func fdatasync(f *os.File) error { return f.Sync() }
