//go:build unix

package bolt

import (
	"os"
	"syscall"
)

// unlockFile releases the flock bbolt took on f; it fails on a closed f.
func unlockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), syscall.LOCK_UN) }); err != nil {
		return err
	}
	return ferr
}
