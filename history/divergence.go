package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Divergence is the first event whose recorded effects differ from the
// recomputed ones (HISTORY.md: replay reports the first such line).
type Divergence struct {
	File  string
	Line  int
	Event string // fsm.DescribeEvent of the event
	// Index is the position of the first differing effect (0-based); it equals
	// the length of the shorter list when one list is a prefix of the other.
	Index int
	// Field is the first contract field that differs at Index, "type" when the
	// types differ, "" when one side has no effect there.
	Field      string
	Recorded   []string // compact JSON, one effect each
	Recomputed []string
}

// Error returns the readable diff: where, what differs, then both lists one
// effect a line with a marker on the first differing effect.
func (d *Divergence) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: recorded effects diverge from the recomputed ones at effect %d", d.File, d.Line, d.Index+1)
	if d.Field != "" {
		fmt.Fprintf(&b, " (field %s)", d.Field)
	}
	fmt.Fprintf(&b, " after %s\n", d.Event)
	list := func(title string, effs []string) {
		fmt.Fprintf(&b, "  %s (%d effects):\n", title, len(effs))
		for i, e := range effs {
			mark := "    "
			if i == d.Index {
				mark = "  > "
			}
			b.WriteString(mark + e + "\n")
		}
		if d.Index >= len(effs) {
			b.WriteString("  > (no effect here)\n")
		}
	}
	list("recorded", d.Recorded)
	list("recomputed", d.Recomputed)
	return b.String()
}

// compareEffects compares recorded with recomputed effects on type and contract
// fields. It returns the index and field of the first difference, or ok.
func compareEffects(recorded, recomputed []json.RawMessage) (index int, field string, ok bool) {
	n := min(len(recorded), len(recomputed))
	for i := 0; i < n; i++ {
		if f, same := sameEffect(recorded[i], recomputed[i]); !same {
			return i, f, false
		}
	}
	if len(recorded) != len(recomputed) {
		return n, "", false
	}
	return 0, "", true
}

// sameEffect compares two effects through their JSON values (so spacing, key
// order and number spelling do not matter) on type and the contract fields of
// that type; a field present on one side only differs.
func sameEffect(a, b json.RawMessage) (field string, same bool) {
	ma, mb := normalize(a), normalize(b)
	ta, _ := ma["type"].(string)
	tb, _ := mb["type"].(string)
	if ma == nil || mb == nil || ta != tb {
		return "type", false
	}
	for _, f := range contractFields[ta] {
		va, okA := ma[f]
		vb, okB := mb[f]
		if okA != okB || !reflect.DeepEqual(va, vb) {
			return f, false
		}
	}
	return "", true
}

// normalize decodes an effect object; numbers stay json.Number and are then
// canonicalized so that 3 and 3.0 compare equal but 2^53+1 stays exact.
func normalize(raw json.RawMessage) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	for k, v := range m {
		m[k] = canonical(v)
	}
	return m
}

func canonical(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			if i := int64(f); float64(i) == f && f >= -(1<<53) && f <= 1<<53 {
				return i
			}
			return f
		}
		return string(x)
	case []any:
		for i := range x {
			x[i] = canonical(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = canonical(x[k])
		}
	}
	return v
}
