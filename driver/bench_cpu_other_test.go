//go:build !unix

package driver

import "time"

// cpuTime is not measured here (cpu-ns/ack reads 0).
func cpuTime() time.Duration { return 0 }
