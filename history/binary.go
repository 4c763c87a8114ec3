package history

import (
	"bytes"

	"github.com/ckptcore/ckptcore/fsm"
)

// The binary variant of the history format (HISTORY.md, "Binary variant"):
// what a flight recorder writes when it must keep up with millions of acks a
// second. It holds exactly the lines of the NDJSON history it stands for —
// `ckpt convert` turns it into that history byte for byte — in records:
//
//	file   = magic (8 bytes) version (1 byte, 1) record*
//	record = kind (1 byte) length (uvarint) payload (length bytes)
//
// A line record (kind 1) is one NDJSON line verbatim, without its newline: the
// header, the first event, every event with effects, comments. A run record
// (kind 2) is a run of events without effects that share type, time,
// checkpoint, vertex and reason — the acks one batch of the event loop applies
// — with their subtask indexes as ranges (binary_run.go): a few bytes for
// hundreds of acks, where the NDJSON lines take 70 bytes each. Every varint is
// minimal; a record is at most MaxLineBytes long, so a reader holds one record
// at a time. Record i of the converted file's lines is "line i" in errors and
// replay output, so a binary file and its conversion report the same lines.

// BinaryMagic starts every binary history: a byte that is not ASCII (no text
// reader mistakes the file for NDJSON), "CKH", and a CR LF and ^Z LF that a
// text-mode copy would change (as PNG's signature).
const BinaryMagic = "\x89CKH\r\n\x1a\n"

// BinaryVersion is the binary layout version this package reads and writes.
const BinaryVersion = 1

// Record kinds of the binary variant. 0 is not a kind: a file whose tail a
// power loss filled with zeros is refused there.
const (
	binLine = 1 // one NDJSON line, verbatim
	binRun  = 2 // a run of events without effects (binary_run.go)
)

// Run event types: the format's own numbering, independent of fsm's.
const (
	runAck          = 1
	runDecline      = 2
	runTaskFailed   = 3
	runTaskRunning  = 4
	runTaskFinished = 5
)

// Run flags.
const (
	runRecorded = 1 << 0 // every event carries "effects":[] (recorded, none)
	runSizes    = 1 << 1 // acks only: each event's state_size and checkpointed_size follow the ranges
	runFlags    = runRecorded | runSizes
)

func runCode(t fsm.EventType) byte {
	switch t {
	case fsm.EvAck:
		return runAck
	case fsm.EvDecline:
		return runDecline
	case fsm.EvTaskFailed:
		return runTaskFailed
	case fsm.EvTaskRunning:
		return runTaskRunning
	case fsm.EvTaskFinished:
		return runTaskFinished
	}
	return 0
}

func runType(c byte) (fsm.EventType, bool) {
	switch c {
	case runAck:
		return fsm.EvAck, true
	case runDecline:
		return fsm.EvDecline, true
	case runTaskFailed:
		return fsm.EvTaskFailed, true
	case runTaskRunning:
		return fsm.EvTaskRunning, true
	case runTaskFinished:
		return fsm.EvTaskFinished, true
	}
	return 0, false
}

// IsBinary reports whether b, a file's first bytes, starts with the binary
// variant's magic.
func IsBinary(b []byte) bool { return bytes.HasPrefix(b, []byte(BinaryMagic)) }

// appendUvarint appends v as a minimal unsigned LEB128 varint.
func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// zigzag maps a signed delta to an unsigned varint value.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// uvarint reads a minimal varint from b at i: the value and the index after
// it, or a reason it is malformed.
func uvarint(b []byte, i int) (uint64, int, string) {
	var v uint64
	for k := 0; ; k++ {
		if i >= len(b) {
			return 0, i, "truncated varint"
		}
		c := b[i]
		i++
		if k == 9 && c > 1 {
			return 0, i, "varint overflows 64 bits"
		}
		v |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			if c == 0 && k > 0 {
				return 0, i, "non-minimal varint"
			}
			return v, i, ""
		}
	}
}
