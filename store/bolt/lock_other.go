//go:build !unix

package bolt

import "os"

// unlockFile does nothing: closing f releases bbolt's lock.
func unlockFile(f *os.File) error { return nil }
