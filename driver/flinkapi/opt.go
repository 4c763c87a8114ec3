package flinkapi

import (
	"bytes"
	"encoding/json"
)

// Opt is a JSON field that Flink versions disagree on: absent (an older Flink
// does not have it), null, or a value. It round-trips all three, so a recorded
// response of any version decodes and encodes unchanged. Use it with the
// omitzero tag option.
type Opt[T any] struct {
	Present bool // the field was (is to be) written
	Value   *T   // nil writes null
}

// Some returns a present, non-null field.
func Some[T any](v T) Opt[T] { return Opt[T]{Present: true, Value: &v} }

// Null returns a present null field.
func Null[T any]() Opt[T] { return Opt[T]{Present: true} }

// IsZero reports an absent field (omitzero leaves it out).
func (o Opt[T]) IsZero() bool { return !o.Present }

// Get returns the value, or the zero value when absent or null.
func (o Opt[T]) Get() T {
	var zero T
	if o.Value == nil {
		return zero
	}
	return *o.Value
}

// MarshalJSON writes the value or null.
func (o Opt[T]) MarshalJSON() ([]byte, error) {
	if o.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*o.Value)
}

// UnmarshalJSON reads the value; null is kept as null.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Present = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}
