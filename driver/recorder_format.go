package driver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ckptcore/ckptcore/history"
)

// FlightFormat is the encoding of the flight recorder's files.
type FlightFormat int

const (
	// FlightNDJSON writes flight-<n>.jsonl: one JSON line an event
	// (docs/spec/HISTORY.md), readable with any text tool while it is written.
	FlightNDJSON FlightFormat = iota
	// FlightBinary writes flight-<n>.bin: the binary variant (HISTORY.md,
	// "Binary variant"), in which a batch of acks is one record of a few
	// bytes. Every reader of package history reads it; `ckpt convert` turns
	// it into the NDJSON file byte for byte.
	FlightBinary
)

// String returns the format's name as `ckpt serve --flight-format` takes it.
func (f FlightFormat) String() string {
	switch f {
	case FlightNDJSON:
		return "ndjson"
	case FlightBinary:
		return "binary"
	}
	return fmt.Sprintf("FlightFormat(%d)", int(f))
}

// ParseFlightFormat reads "ndjson" or "binary".
func ParseFlightFormat(s string) (FlightFormat, error) {
	switch s {
	case "ndjson":
		return FlightNDJSON, nil
	case "binary":
		return FlightBinary, nil
	}
	return 0, fmt.Errorf("flight format %q: want ndjson or binary", s)
}

// ext is the file name extension of the format's flight files.
func (f FlightFormat) ext() string {
	if f == FlightBinary {
		return ".bin"
	}
	return ".jsonl"
}

// flightExts are the extensions of flight files in either format: a job's
// files are numbered across both (a restart may change the format).
var flightExts = []string{".jsonl", ".bin"}

// cutTorn cuts a torn tail off the previous incarnation's file, if there is
// one in either format.
func cutTorn(dir string, n int) error {
	base := filepath.Join(dir, fmt.Sprintf("flight-%d", n))
	if err := cutTornLine(base + ".jsonl"); err != nil {
		return err
	}
	return cutTornRecord(base + ".bin")
}

// cutTornRecord cuts off a binary flight file everything from the first
// record that is not whole (a power loss during its write: a process crash
// cannot tear a write(2) to a file) or whose kind is not one (a tail a power
// loss filled with zeros). It reads the records' framing from the start: a
// binary file has no line ends to find the last record by from the end, and
// it is about 30 times smaller than its NDJSON form.
func cutTornRecord(path string) error {
	return cutTail(path, func(f *os.File, size int64) (int64, error) {
		return wholeRecords(bufio.NewReaderSize(f, 64<<10), size)
	})
}

// wholeRecords returns the length of the longest prefix of a binary history
// of size bytes that ends after a whole record (or after the magic).
func wholeRecords(r *bufio.Reader, size int64) (int64, error) {
	head := int64(len(history.BinaryMagic) + 1)
	if _, err := r.Discard(int(head)); err != nil {
		return 0, nil // not even the magic: nothing of the file is whole
	}
	off := head
	for off < size {
		kind, err := r.ReadByte()
		if err != nil {
			return off, ignoreEOF(err)
		}
		if kind != 1 && kind != 2 {
			return off, nil
		}
		var n uint64
		k := 0
		for ; k < 10; k++ {
			c, err := r.ReadByte()
			if err != nil {
				return off, ignoreEOF(err)
			}
			n |= uint64(c&0x7f) << (7 * k)
			if c < 0x80 {
				break
			}
		}
		end := off + 1 + int64(k+1) + int64(n)
		if k == 10 || n > history.MaxLineBytes || end > size {
			return off, nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return off, ignoreEOF(err)
		}
		off = end
	}
	return off, nil
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
