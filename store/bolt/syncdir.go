package bolt

import (
	"os"
	"runtime"
)

// syncDir makes the creation and removal of files in dir durable. Windows
// cannot open a directory for syncing, and needs not.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
