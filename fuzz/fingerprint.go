package fuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Fingerprint renders everything fsm's exported views show of a state, in a
// fixed order, as one canonical string: two states with different views have
// different fingerprints. It is readable (tests print it in diffs) and does not
// depend on how the state got there.
//
// The views do not show everything that affects future behaviour (see
// hiddenFields): the explorer therefore deduplicates on DeepKey, and
// TestFingerprintGaps measures what the views miss.
func Fingerprint(s *fsm.State) string {
	var b strings.Builder
	topo := s.Topology()
	fmt.Fprintf(&b, "job=%s fail=%q now=%d next=%d regional=%t consecutive=%d forcing=%t force_next=%t failures=%d",
		s.Job(), s.FailReason(), s.Now(), s.NextID(), s.RegionalMode(), s.Consecutive(), s.Forcing(),
		s.ForceNextGlobal(), s.Failures())
	e := s.Effective()
	fmt.Fprintf(&b, " cfg=%d/%d/%t", e.IntervalMs, e.TimeoutMs, e.OverridesActive)
	if at, ok := s.NextDeadline(); ok {
		fmt.Fprintf(&b, " due=%d", at)
	}
	b.WriteString(" tasks=")
	for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
		switch {
		case s.TaskFinished(id):
			b.WriteByte('F')
		case s.TaskRunning(id):
			b.WriteByte('R')
		default:
			b.WriteByte('S') // restarting
		}
	}
	for _, p := range s.Pending() {
		fmt.Fprintf(&b, "\npending %d %s forced=%t regional_path=%t at=%d deadline=%d persisting=%t failed=%d cause=%q",
			p.ID, p.Kind, p.ForcedGlobal, p.RegionalPath, p.TriggerAt, p.Deadline, p.Persisting, p.FailedCount, p.FirstCause)
		b.WriteString(" triggered=")
		for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
			b.WriteByte(bit(p.Triggered(id)))
		}
		b.WriteString(" acked=")
		for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
			b.WriteByte(bit(p.Acked(id)))
		}
		b.WriteString(" failed_regions=")
		for r := 0; r < topo.NumRegions(); r++ {
			b.WriteByte(bit(p.RegionFailed(r)))
		}
		fmt.Fprintf(&b, " refs=%s", refsString(p.Refs()))
	}
	for _, k := range s.Known() {
		fmt.Fprintf(&b, "\nknown %d %s consecutive=%d retained=%t owned=%t restored=%t refs=%s",
			k.ID, k.Mode, k.Consecutive, k.Retained, k.Owned, k.Restored, refsString(k.Refs))
	}
	id, noClaim := s.RestoredSnapshot()
	fmt.Fprintf(&b, "\nrestored=%d no_claim=%t patches=%v", id, noClaim, s.PendingPatches())
	return b.String()
}

func bit(v bool) byte {
	if v {
		return '1'
	}
	return '0'
}

func refsString(refs []fsm.RegionRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fsm.RegionName(r.Region) + "->" + strconv.FormatInt(r.Checkpoint, 10)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Key is a 128-bit digest identifying a value up to representation details
// that cannot matter (a nil slice equals an empty one, map order is ignored).
type Key [16]byte

// DeepKey digests every field of a state, exported or not, except the effect
// buffer (valid only until the next Step) and the shared immutable topology. It
// reads unexported fields through reflection, read-only: this is what makes it
// complete — whatever the core will ever base a decision on is in it — where
// Fingerprint is limited to the views fsm chooses to export.
func DeepKey(s *fsm.State) Key {
	return digest(s, "effects")
}

// digest hashes v with the canonical reflective encoding, leaving out the
// top-level struct fields named in skip.
func digest(v any, skip ...string) Key {
	buf := appendValue(make([]byte, 0, 1024), reflect.ValueOf(v), skip)
	h := fnv.New128a()
	h.Write(buf)
	var k Key
	copy(k[:], h.Sum(nil))
	return k
}

var topologyType = reflect.TypeOf((*fsm.Topology)(nil))

func appendInt(b []byte, x int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(x)) }

// appendValue appends a canonical encoding of v. Only the first struct reached
// honours skip, so that a field name deeper down is never dropped by accident.
func appendValue(b []byte, v reflect.Value, skip []string) []byte {
	switch v.Kind() {
	case reflect.Invalid:
		return append(b, 0)
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendInt(b, int64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		return appendInt(b, int64(math.Float64bits(v.Float())))
	case reflect.String:
		return append(appendInt(b, int64(v.Len())), v.String()...)
	case reflect.Slice, reflect.Array:
		b = appendInt(b, int64(v.Len())) // nil and empty slices encode alike
		for i := 0; i < v.Len(); i++ {
			b = appendValue(b, v.Index(i), nil)
		}
		return b
	case reflect.Pointer:
		if v.Type() == topologyType {
			return b // immutable and shared by every state of one job
		}
		if v.IsNil() {
			return append(b, 0)
		}
		return appendValue(append(b, 1), v.Elem(), skip)
	case reflect.Interface:
		if v.IsNil() {
			return append(b, 0)
		}
		return appendValue(append(b, v.Elem().Type().String()...), v.Elem(), nil)
	case reflect.Map:
		// Sort entries by the encoding of their key: map iteration order must
		// not leak into the digest.
		type entry struct{ k, v []byte }
		entries := make([]entry, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			entries = append(entries, entry{appendValue(nil, it.Key(), nil), appendValue(nil, it.Value(), nil)})
		}
		sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].k, entries[j].k) < 0 })
		b = appendInt(b, int64(len(entries)))
		for _, e := range entries {
			b = append(append(b, e.k...), e.v...)
		}
		return b
	case reflect.Struct:
		t := v.Type()
	fields:
		for i := 0; i < t.NumField(); i++ {
			for _, name := range skip {
				if t.Field(i).Name == name {
					continue fields
				}
			}
			b = appendValue(b, v.Field(i), nil)
		}
		return b
	default:
		// Funcs and channels carry no state the core could decide on.
		panic(fmt.Sprintf("fuzz: cannot digest a %s", v.Kind()))
	}
}

// fieldDiff names the fields of fsm.State (and of its pending checkpoints,
// as "pending.field") whose digests differ between two states of one job.
func fieldDiff(a, b *fsm.State) []string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Name
		if name == "effects" {
			continue
		}
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Slice && fa.Type().Elem().Kind() == reflect.Struct && fa.Len() == fb.Len() {
			et := fa.Type().Elem()
			for j := 0; j < et.NumField(); j++ {
				for k := 0; k < fa.Len(); k++ {
					if valueDigest(fa.Index(k).Field(j)) != valueDigest(fb.Index(k).Field(j)) {
						out = append(out, name+"."+et.Field(j).Name)
						break
					}
				}
			}
			continue
		}
		if valueDigest(fa) != valueDigest(fb) {
			out = append(out, name)
		}
	}
	return out
}

func valueDigest(v reflect.Value) string { return string(appendValue(nil, v, nil)) }
