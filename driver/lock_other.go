//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package driver

import "os"

// lockDir opens dir/LOCK without locking it: this platform has no flock, so
// keeping a store to one driver is the operator's job.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
}
