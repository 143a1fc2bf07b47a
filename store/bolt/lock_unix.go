//go:build unix

package bolt

import (
	"errors"
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

// logLocks reports whether lockLog locks (see lockFile).
const logLocks = true

// lockFile takes an exclusive flock on f without waiting: false when
// another open file holds it.
func lockFile(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB) }); err != nil {
		return false, err
	}
	if errors.Is(ferr, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return ferr == nil, ferr
}

// fileLocked reports whether another open file holds a flock on the file
// at path (bbolt's, of a DB that has it open), to say why the log's lock
// is held. It creates nothing; the shared lock it may take for a moment
// goes with the file's Close.
func fileLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), syscall.LOCK_SH|syscall.LOCK_NB) }); err != nil {
		return false
	}
	return errors.Is(ferr, syscall.EWOULDBLOCK)
}
