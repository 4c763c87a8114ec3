package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ckptcore/ckptcore/history"
)

// maxInputBytes bounds what a subcommand reads into memory from one file: a
// JobManager log of a long-running job is large, but not this large.
const maxInputBytes = 1 << 30

// readHistory decodes the history at path ("-" is standard input).
func (a *app) readHistory(path string) (*history.History, error) {
	if path == "-" {
		return history.Decode(a.stdin, "<stdin>")
	}
	return history.ReadFile(path)
}

// readInput reads a whole file ("-" is standard input), bounded in size.
func (a *app) readInput(path string) ([]byte, error) {
	r := a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInputBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", displayName(path), maxInputBytes)
	}
	return b, nil
}

// displayName is how errors and reports name a file argument.
func displayName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

// writeFile writes data to path, creating or truncating it.
func writeFile(path string, data []byte) error {
	return os.WriteFile(path, data, 0o644)
}
