//go:build !unix

package bolt

import "os"

// unlockFile does nothing: closing f releases bbolt's lock.
func unlockFile(f *os.File) error { return nil }

// logLocks reports whether lockLog locks: not here, where lockFile has no
// flock to take.
const logLocks = false

// lockFile is never called where logLocks is false.
func lockFile(f *os.File) (bool, error) { return true, nil }

// fileLocked is never called where logLocks is false: lockLog, taking no
// lock, never fails with ErrLocked.
func fileLocked(path string) bool { return false }
