//go:build unix

package fsm

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user and system CPU time. Benchmarks report it
// beside wall time because the machine they run on is shared: wall time grows
// with other processes' load, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
