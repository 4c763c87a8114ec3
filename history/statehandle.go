package history

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// FormatState is the header format of a history whose acks may carry state
// handles (HISTORY.md, "State handles"): v1.1 plus the ack's "state" field.
// A v1 or v1.1 reader refuses it by its header.
const FormatState = "ckpt-history/v1.2"

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
	Field  string // uri, inline or size (or another key, or "" for the whole object)
	Value  string
	Reason string
}

// Error returns "FIELD: VALUE: REASON", leaving out empty parts.
func (e *HandleError) Error() string {
	s := e.Reason
	if e.Value != "" {
		s = e.Value + ": " + s
	}
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	return s
}

// AppendStateHandle appends the JSON form of a handle (HISTORY.md and
// METADATA.md, the "state" object): {"uri":...,"size":N},
// {"inline":"<base64>","size":N} or {"size":N}.
func AppendStateHandle(b []byte, h StateHandle) []byte {
	o := &jsonObject{b: append(b, '{')}
	switch {
	case h.URI != "":
		o.str("uri", h.URI)
	case h.Inline != nil:
		o.raw("inline", append(base64.StdEncoding.AppendEncode([]byte{'"'}, h.Inline), '"'))
	}
	o.int("size", h.Size)
	return o.bytes()
}

// ParseStateHandle reads the JSON form of a handle strictly — an object with
// uri or inline (standard padded base64) and size, no other or duplicate
// field — and checks its bounds (Validate). An object that says nothing
// ({"size":0}) is refused: no state is written as no "state" field. Errors
// are *HandleError, Field naming the key.
func ParseStateHandle(raw []byte) (StateHandle, error) {
	var h StateHandle
	o, err := parseObject("", raw)
	if err == nil {
		err = o.allow("a state handle has", "uri", "inline", "size")
	}
	if err != nil {
		return h, handleFieldError(err)
	}
	uri, hasURI, err := o.str("uri", false)
	if err != nil {
		return h, handleFieldError(err)
	}
	if hasURI && uri == "" {
		return h, &HandleError{Field: "uri", Value: `""`, Reason: "empty: leave the field out"}
	}
	h.URI = uri
	inline, hasInline, err := o.str("inline", false)
	if err != nil {
		return h, handleFieldError(err)
	}
	if hasInline {
		if base64.StdEncoding.DecodedLen(len(inline)) > MaxInlineStateBytes+2 {
			return h, &HandleError{Field: "inline", Value: strconv.Itoa(len(inline)) + " base64 characters",
				Reason: fmt.Sprintf("more than the %d bytes allowed", MaxInlineStateBytes)}
		}
		if h.Inline, err = base64.StdEncoding.Strict().DecodeString(inline); err != nil {
			return h, &HandleError{Field: "inline", Value: strconv.Quote(cutString(inline)), Reason: "not standard base64: " + err.Error()}
		}
	}
	if h.Size, _, err = o.integer("size", true, 0, maxID); err != nil {
		return h, handleFieldError(err)
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	if h.IsZero() {
		return h, &HandleError{Field: "size", Value: "0", Reason: "a handle with no uri, no inline state and size 0 says nothing: leave the state field out"}
	}
	return h, nil
}

func handleFieldError(err error) error {
	if fe, ok := err.(*fieldError); ok {
		return &HandleError{Field: fe.field, Reason: fe.reason}
	}
	return &HandleError{Reason: err.Error()}
}

func cutString(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
