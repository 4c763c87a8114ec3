package checkpointstorage

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
)

// obj is one JSON object read strictly: duplicate keys are an error (which
// encoding/json would resolve silently to the last one), and the reader must
// claim every key (allow), so an unknown field is an error too.
type obj struct {
	path    string
	members map[string]json.RawMessage
	order   []string
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindOf names the JSON type of a raw value for errors.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func parseObj(path string, raw json.RawMessage) (*obj, error) {
	if k := kindOf(raw); k != "an object" {
		return nil, errf(path, "", "want an object, got "+k)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, errf(path, "", "malformed JSON: "+err.Error())
	}
	o := &obj{path: path, members: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errf(path, "", "malformed JSON: "+err.Error())
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, errf(join(path, key), "", "malformed JSON: "+err.Error())
		}
		if _, dup := o.members[key]; dup {
			return nil, errf(join(path, key), "", "duplicate field")
		}
		o.members[key] = val
		o.order = append(o.order, key)
	}
	return o, nil
}

// parseDocument reads data as exactly one JSON object and nothing after it.
func parseDocument(data []byte) (*obj, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, errf("", "", "malformed JSON: "+err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errf("", "", "data after the JSON object")
	}
	return parseObj("", raw)
}

// allow refuses the first key, in file order, that is not one of keys.
func (o *obj) allow(keys ...string) error {
	for _, k := range o.order {
		ok := false
		for _, a := range keys {
			ok = ok || a == k
		}
		if !ok {
			return errf(join(o.path, k), "", "unknown field")
		}
	}
	return nil
}

func (o *obj) raw(key string, required bool) (json.RawMessage, bool, error) {
	v, ok := o.members[key]
	if !ok && required {
		return nil, false, errf(join(o.path, key), "", "missing required field")
	}
	return v, ok, nil
}

func (o *obj) str(key string, required bool) (string, bool, error) {
	raw, ok, err := o.raw(key, required)
	if err != nil || !ok {
		return "", ok, err
	}
	var s string
	if kindOf(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", false, errf(join(o.path, key), string(cut(raw)), "want a string, got "+kindOf(raw))
	}
	return s, true, nil
}

// integer reads a JSON integer (no fraction, no exponent) in [lo, hi].
func (o *obj) integer(key string, required bool, lo, hi int64) (int64, bool, error) {
	raw, ok, err := o.raw(key, required)
	if err != nil || !ok {
		return 0, ok, err
	}
	f := join(o.path, key)
	text := string(bytes.TrimSpace(raw))
	v, perr := strconv.ParseInt(text, 10, 64)
	if kindOf(raw) != "a number" || perr != nil {
		return 0, false, errf(f, string(cut(raw)), "want an integer")
	}
	if v < lo || v > hi {
		return 0, false, errf(f, text, "want an integer in ["+itoa(lo)+", "+itoa(hi)+"]")
	}
	return v, true, nil
}

func (o *obj) array(key string, required bool) ([]json.RawMessage, bool, error) {
	raw, ok, err := o.raw(key, required)
	if err != nil || !ok {
		return nil, ok, err
	}
	var elems []json.RawMessage
	if kindOf(raw) != "an array" || json.Unmarshal(raw, &elems) != nil {
		return nil, false, errf(join(o.path, key), string(cut(raw)), "want an array, got "+kindOf(raw))
	}
	return elems, true, nil
}

// cut shortens a raw value for an error message.
func cut(raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 80 {
		return append(append([]byte{}, raw[:80]...), "..."...)
	}
	return raw
}
