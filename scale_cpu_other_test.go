//go:build !unix

package membership_test

import "time"

// processCPU reports false: getrusage is a Unix call.
func processCPU() (time.Duration, bool) { return 0, false }
