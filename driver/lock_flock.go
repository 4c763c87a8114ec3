//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package driver

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on dir/LOCK so that two drivers never
// write one store. The kernel releases it when the process dies, even by SIGKILL.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: the store is in use by another driver", path)
		}
		return nil, fmt.Errorf("%s: lock: %w", path, err)
	}
	return f, nil
}
