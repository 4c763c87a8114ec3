package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ckptcore/ckptcore/fsm"
)

// maxID bounds ids and times: fsm.MaxSafeInt (HISTORY.md).
const maxID = fsm.MaxSafeInt

// member is one key of a JSON object with its raw value, in the order of the line.
type member struct {
	key string
	val json.RawMessage
}

// object is a JSON object read strictly: keys in order, duplicates refused, and
// every key must be claimed by the reader (unknown fields are an error, HISTORY.md).
// The path prefixes every field it names in errors.
type object struct {
	path    string
	members []member
}

// parseObject reads one JSON object whose keys are checked by the caller. It is
// decoded token by token rather than into a map so that a duplicate key — which
// encoding/json would silently resolve to the last value — is an error too.
func parseObject(path string, raw []byte) (*object, error) {
	if k := kindOf(raw); k != "object" {
		return nil, errorf(path, "want an object, got %s", describe(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, errorf(path, "malformed JSON: %v", err)
	}
	o := &object{path: path}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errorf(path, "malformed JSON: %v", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, errorf(join(path, key), "malformed JSON: %v", err)
		}
		if seen[key] {
			return nil, errorf(join(path, key), "duplicate field")
		}
		seen[key] = true
		o.members = append(o.members, member{key, val})
	}
	return o, nil
}

// field returns the path of a key of this object.
func (o *object) field(key string) string { return join(o.path, key) }

// get returns a key's raw value.
func (o *object) get(key string) (json.RawMessage, bool) {
	for _, m := range o.members {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// allow refuses the first key (in line order) that is not one of keys; hint
// tells the reader what is allowed here.
func (o *object) allow(hint string, keys ...string) error {
	for _, m := range o.members {
		ok := false
		for _, k := range keys {
			if m.key == k {
				ok = true
				break
			}
		}
		if !ok {
			return errorf(o.field(m.key), "unknown field (%s: %s)", hint, strings.Join(keys, ", "))
		}
	}
	return nil
}

func (o *object) missing(key string) error { return errorf(o.field(key), "missing required field") }

// str reads a string field; ok is false when the key is absent.
func (o *object) str(key string, required bool) (s string, ok bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		if required {
			return "", false, o.missing(key)
		}
		return "", false, nil
	}
	if kindOf(raw) != "string" {
		return "", false, errorf(o.field(key), "want a string, got %s", describe(raw))
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, errorf(o.field(key), "malformed string: %v", err)
	}
	return s, true, nil
}

// integer reads an integer field within [lo, hi]; ok is false when absent.
func (o *object) integer(key string, required bool, lo, hi int64) (v int64, ok bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		if required {
			return 0, false, o.missing(key)
		}
		return 0, false, nil
	}
	v, err = parseInt(o.field(key), raw, lo, hi)
	return v, err == nil, err
}

// id reads a positive id below 2^53.
func (o *object) id(key string, required bool) (int64, bool, error) {
	return o.integer(key, required, 1, maxID)
}

// boolean reads a true/false field.
func (o *object) boolean(key string) (v, ok bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		return false, false, nil
	}
	switch string(raw) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, errorf(o.field(key), "want true or false, got %s", describe(raw))
}

// number reads a finite JSON number (float).
func (o *object) number(key string) (v float64, ok bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	if kindOf(raw) != "number" {
		return 0, false, errorf(o.field(key), "want a number, got %s", describe(raw))
	}
	v, perr := strconv.ParseFloat(string(raw), 64)
	if perr != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false, errorf(o.field(key), "number %s out of range", raw)
	}
	return v, true, nil
}

// array reads a JSON array into its raw elements.
func (o *object) array(key string, required bool) (elems []json.RawMessage, ok bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		if required {
			return nil, false, o.missing(key)
		}
		return nil, false, nil
	}
	if kindOf(raw) != "array" {
		return nil, false, errorf(o.field(key), "want an array, got %s", describe(raw))
	}
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false, errorf(o.field(key), "malformed array: %v", err)
	}
	return elems, true, nil
}

// sub reads a nested object.
func (o *object) sub(key string, required bool) (*object, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		if required {
			return nil, false, o.missing(key)
		}
		return nil, false, nil
	}
	sub, err := parseObject(o.field(key), raw)
	return sub, err == nil, err
}

// parseInt reads an integer in [lo, hi]. Only plain decimal integers are
// accepted: 1.0, 1e3 and "1" are refused, since times and ids are integers and
// a float-shaped value is a sign of a writer bug.
func parseInt(field string, raw []byte, lo, hi int64) (int64, error) {
	if kindOf(raw) != "number" {
		return 0, errorf(field, "want an integer, got %s", describe(raw))
	}
	if bytes.ContainsAny(raw, ".eE") {
		return 0, errorf(field, "want an integer, got %s", raw)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, errorf(field, "integer %s out of range [%d, %d]", raw, lo, hi)
	}
	if v < lo || v > hi {
		if lo == 1 && hi == maxID {
			return 0, errorf(field, "%d is not a positive integer below 2^53", v)
		}
		if lo == 0 && hi == maxID {
			return 0, errorf(field, "%d is not a non-negative integer below 2^53", v)
		}
		return 0, errorf(field, "%d out of range [%d, %d]", v, lo, hi)
	}
	return v, nil
}

// kindOf names the JSON type of a raw value from its first byte.
func kindOf(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// describe renders a raw value for an error message: its type and, shortened, its text.
func describe(raw []byte) string {
	k := kindOf(raw)
	text := string(bytes.TrimSpace(raw))
	if len(text) > 40 {
		cut := 37
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	switch k {
	case "null":
		return "null"
	case "number":
		return text
	}
	return k + " " + text
}

// checkLine verifies that a line is one well-formed JSON value in UTF-8 and says
// where it is not, so that "malformed JSON" comes with a column.
func checkLine(line []byte) error {
	if !utf8.Valid(line) {
		return errorf("", "not valid UTF-8")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &fieldError{"", fmt.Sprintf("malformed JSON: more than one value on the line (column %d)", dec.InputOffset()+1)}
	}
	return nil
}

func malformed(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &fieldError{"", fmt.Sprintf("malformed JSON at column %d: %v", se.Offset, se)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &fieldError{"", "malformed JSON: unexpected end of line"}
	}
	return &fieldError{"", "malformed JSON: " + err.Error()}
}
