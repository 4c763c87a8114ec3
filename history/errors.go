package history

import (
	"fmt"
	"strconv"
)

// Error is invalid input in a history: the file, the physical line (1-based,
// counting blank and comment lines), the field (a path such as
// "job.vertices[1].parallelism" or "restore.mode", empty when the whole line is
// at fault) and the reason. In a binary history (binary.go) Line is the line
// of its NDJSON conversion and Offset the byte offset of the record or field
// at fault; Offset is 0 in an NDJSON history.
type Error struct {
	File   string
	Line   int
	Offset int64
	Field  string
	Reason string
}

// Error renders "file:line: field: reason", leaving out the field when empty,
// and "file:line (byte N): …" in a binary history.
func (e *Error) Error() string {
	where := e.File + ":" + strconv.Itoa(e.Line)
	if e.Offset > 0 {
		where += " (byte " + strconv.FormatInt(e.Offset, 10) + ")"
	}
	if e.Field == "" {
		return where + ": " + e.Reason
	}
	return where + ": " + e.Field + ": " + e.Reason
}

// fieldError is an error inside one line; the line loop adds file and line.
type fieldError struct {
	field  string
	reason string
}

// Error renders "field: reason"; at replaces it with the line-aware *Error.
func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func errorf(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, reason: fmt.Sprintf(format, args...)}
}

// at turns an error found on one line into an *Error for that line.
func at(file string, line int, err error) *Error {
	if fe, ok := err.(*fieldError); ok {
		return &Error{File: file, Line: line, Field: fe.field, Reason: fe.reason}
	}
	return &Error{File: file, Line: line, Reason: err.Error()}
}

// join builds a field path: join("job", "vertices[0]") = "job.vertices[0]".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
