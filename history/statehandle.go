package history

import (
	"fmt"
	"unicode/utf8"
)

// Bounds of a state handle (HISTORY.md, "State handles"; METADATA.md). Every
// reader of a handle — the history decoder, the _metadata reader, the driver's
// API — checks them, so that no input makes memory grow without bound.
const (
	// MaxHandleURIBytes bounds a handle's URI.
	MaxHandleURIBytes = 4096
	// MaxInlineStateBytes bounds state carried inline (Flink's
	// state.storage.fs.memory-threshold is 20 KB by default and at most 1 MB;
	// inline state is meant for small states).
	MaxInlineStateBytes = 64 << 10
)

// StateHandle is a subtask's state for one checkpoint as the subtask reported
// it in its ack (FLIP-600 points 3 and 4): opaque to the coordinator, which
// only stores it in the checkpoint's metadata and hands it back on restore.
// Either URI names where the state lives (a file, an object in a bucket), or
// Inline carries it (small states), or neither; Size is the state's size in
// bytes. The zero value means "no state" (a stateless subtask, or a runtime
// that does not report state).
type StateHandle struct {
	URI    string
	Inline []byte
	Size   int64
}

// IsZero reports whether h carries no state.
func (h StateHandle) IsZero() bool { return h.URI == "" && h.Inline == nil && h.Size == 0 }

// Validate checks the bounds every reader of a handle enforces: at most one of
// URI and Inline; a URI of 1 to MaxHandleURIBytes bytes of UTF-8 without
// control characters; at most MaxInlineStateBytes inline bytes, and then Size
// equal to their number; 0 <= Size <= 2^53-1. The error names the field.
func (h StateHandle) Validate() error {
	if h.URI != "" && h.Inline != nil {
		return &HandleError{Field: "uri", Reason: "a handle has a uri or inline state, not both"}
	}
	if len(h.URI) > MaxHandleURIBytes {
		return &HandleError{Field: "uri", Value: fmt.Sprintf("%d bytes", len(h.URI)), Reason: fmt.Sprintf("more than the %d allowed", MaxHandleURIBytes)}
	}
	if !utf8.ValidString(h.URI) {
		return &HandleError{Field: "uri", Reason: "not valid UTF-8"}
	}
	for _, r := range h.URI {
		if r < 0x20 || r == 0x7f {
			return &HandleError{Field: "uri", Reason: fmt.Sprintf("control character %U", r)}
		}
	}
	if len(h.Inline) > MaxInlineStateBytes {
		return &HandleError{Field: "inline", Value: fmt.Sprintf("%d bytes", len(h.Inline)), Reason: fmt.Sprintf("more than the %d allowed", MaxInlineStateBytes)}
	}
	if h.Size < 0 || h.Size > maxID {
		return &HandleError{Field: "size", Value: fmt.Sprint(h.Size), Reason: "want an integer in [0, 2^53-1]"}
	}
	if h.Inline != nil && h.Size != int64(len(h.Inline)) {
		return &HandleError{Field: "size", Value: fmt.Sprint(h.Size), Reason: fmt.Sprintf("inline state has %d bytes", len(h.Inline))}
	}
	return nil
}

// HandleError is a state handle outside its bounds: the field, its value
// (possibly empty) and the reason.
type HandleError struct {
	Field  string // uri, inline or size
	Value  string
	Reason string
}

// Error returns "FIELD: VALUE: REASON" ("FIELD: REASON" without a value).
func (e *HandleError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Reason
	}
	return e.Field + ": " + e.Value + ": " + e.Reason
}
