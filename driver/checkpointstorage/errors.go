package checkpointstorage

import (
	"strconv"
	"strings"
)

// Error is a _metadata file (or a CheckpointMetadata about to be written)
// that breaks METADATA.md: the file, the field (a path such as
// "subtasks[3].state.uri"), the offending value and the rule.
type Error struct {
	File   string
	Field  string
	Value  string
	Reason string
}

// Error returns "FILE: FIELD: VALUE: REASON", leaving out empty parts.
func (e *Error) Error() string {
	parts := make([]string, 0, 4)
	for _, p := range []string{e.File, e.Field, e.Value, e.Reason} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return "checkpointstorage: " + strings.Join(parts, ": ")
}

func errf(field, value, reason string) *Error {
	return &Error{Field: field, Value: value, Reason: reason}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// quote renders a value for an error, cut to a readable length.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
