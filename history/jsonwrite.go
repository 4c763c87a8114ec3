package history

import (
	"strconv"
	"unicode/utf8"
)

// jsonObject appends one JSON object with keys in the order they are written.
// encoding/json sorts map keys and cannot interleave optional fields, and the
// format promises a fixed key order so that files diff cleanly and are
// byte-identical across runs.
type jsonObject struct {
	b []byte
	n int
}

func newObject() *jsonObject { return &jsonObject{b: []byte{'{'}} }

func (o *jsonObject) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) { o.key(k); o.b = appendString(o.b, v) }

func (o *jsonObject) int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }

func (o *jsonObject) bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }

func (o *jsonObject) raw(k string, v []byte) { o.key(k); o.b = append(o.b, v...) }

func (o *jsonObject) strings(k string, vs []string) { o.key(k); o.b = appendStrings(o.b, vs) }

func (o *jsonObject) bytes() []byte { return append(o.b, '}') }

func appendStrings(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Unlike encoding/json it leaves <, >
// and & alone (a history is not HTML) and, like it, replaces invalid UTF-8 with
// U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript in a string literal.
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
