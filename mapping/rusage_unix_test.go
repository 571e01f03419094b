//go:build unix

package mapping_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system, all threads, GC included) the
// process has used: on a shared machine it measures the work per record
// where wall time measures the machine's load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
