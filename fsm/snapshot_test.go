package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// notInSnapshot lists the fields AppendSnapshot leaves out, each with why
// (snapshot.go's section comment): a field is either encoded or here.
var notInSnapshot = map[string]string{
	"topo":                 "the decoder takes the topology",
	"effects":              "effect buffer, valid until the next Step",
	"block":                "a clone's storage (clone.go), not state",
	"regionalMode":         "derived from the topology and the configuration",
	"running":              "derived from status",
	"regionDown":           "derived from status",
	"regionUnfinished":     "derived from status",
	"regionsDown":          "derived from status",
	"unfinished":           "derived from status",
	"sourcesUnfinished":    "derived from status",
	"pending.waitingCount": "derived from waiting",
	"pending.failedCount":  "derived from failed",
	"pending.noFallback":   "derived from failed and the topology",
}

// snapshotTestState is a state in which every field holds a value that
// matters and every slice has an element.
func snapshotTestState(t *testing.T) *State {
	t.Helper()
	cfg := DefaultConfig()
	cfg.IntervalMs, cfg.MinPauseMs, cfg.MaxTimeoutMs = 1000, 5, 900000
	cfg.Regional.Enabled, cfg.Regional.MaxRefAge = true, 3
	s := twoByTwo(t, cfg)
	run(t, s,
		Event{At: 0, Type: EvStart, Restore: &Restore{Checkpoint: 4, Mode: NoClaim, Refs: []RegionRef{{Region: 1, Checkpoint: 2}}}},
		Event{At: 1000, Type: EvTick},
		Event{At: 1001, Type: EvConfigPatch, Request: 7, HasTimeout: true, TimeoutMs: 5000},
	)
	if len(s.pending) == 0 || len(s.known) == 0 || len(s.patches) == 0 {
		t.Fatalf("setup: %d pending, %d known, %d patches", len(s.pending), len(s.known), len(s.patches))
	}
	p := &s.pending[0]
	p.regionSizes = []ackSizes{{state: 1, checkpointed: 2}, {}}
	p.stateSize, p.checkpointedSize = 3, 4
	p.failRegion(s.topo, 1, ReasonDeclined)
	p.recordAck(s.topo, 0, 0, 0)
	p.refs, p.consecutive, p.activeRegions = []RegionRef{{Region: 1, Checkpoint: 2}}, 1, 2
	s.known[0].refs = []RegionRef{{Region: 1, Checkpoint: s.known[0].id - 1}}
	s.hasLastComplete, s.lastComplete = true, 900
	s.countedIDs, s.failures, s.lastSucceeded = []int64{3}, 1, 2
	s.skipped = []skipNotice{{checkpoint: 5, region: 1}}
	s.queuedManual, s.completing = 1, 5
	s.failReason = ReasonExpired
	return s
}

// TestSnapshotCoversEveryField perturbs each field of State (and of the
// records it holds) by reflection: the snapshot must change, and decoding it
// must give the perturbed state back (or refuse a perturbed value that is
// invalid), unless the field is listed in notInSnapshot as derived. A field
// added to State without being encoded and decoded fails here.
func TestSnapshotCoversEveryField(t *testing.T) {
	base := snapshotTestState(t)
	want := base.AppendSnapshot(nil)
	if d := roundTripDiff(t, base); d != "" {
		t.Fatalf("the test state does not round-trip: %s", d)
	}
	seen := map[string]bool{}
	var visit func(path string, get func(*State) reflect.Value)
	visit = func(path string, get func(*State) reflect.Value) {
		v := get(base)
		if visitConfig(path, v, get, visit) {
			return
		}
		if storageFields[path] || v.Kind() == reflect.Pointer {
			seen[path] = true
			if _, ok := notInSnapshot[path]; !ok {
				t.Errorf("%s: a pointer field; encode what it points to or list it in notInSnapshot", path)
			}
			return
		}
		switch {
		case v.Kind() == reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				visit(join(path, v.Type().Field(i).Name), func(s *State) reflect.Value { return get(s).Field(i) })
			}
			return
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
			if v.Len() == 0 {
				t.Fatalf("%s: snapshotTestState leaves it empty", path)
			}
			visit(path, func(s *State) reflect.Value { return get(s).Index(0) })
			return
		}
		seen[path] = true
		c := unshareConfig(base.Clone())
		if !perturb(writable(get(c))) {
			if _, ok := notInSnapshot[path]; !ok {
				t.Errorf("%s: cannot perturb a %s; encode it or list it in notInSnapshot", path, v.Type())
			}
			return
		}
		c.cfg.key = appendConfig(nil, &c.cfg.Config)
		enc := c.AppendSnapshot(nil)
		changed := !bytes.Equal(enc, want)
		_, exempt := notInSnapshot[path]
		switch {
		case !changed && !exempt:
			t.Errorf("%s changes nothing in the snapshot: encode it in AppendSnapshot (fsm/snapshot.go) or list it in notInSnapshot with why", path)
		case changed && exempt:
			t.Errorf("%s is listed in notInSnapshot but changes the snapshot", path)
		case changed:
			d, err := DecodeSnapshot(c.topo, enc)
			if err == nil {
				// Fields derived from the perturbed one are recomputed by
				// the decoder and stale in c: compare the others.
				if diff := valueDiff("State", reflect.ValueOf(d).Elem(), reflect.ValueOf(c).Elem(), true); diff != "" {
					t.Errorf("%s: perturbed, encoded and decoded: %s", path, diff)
				}
			}
		}
	}
	visit("", func(s *State) reflect.Value { return reflect.ValueOf(s).Elem() })
	for name := range notInSnapshot {
		if !seen[name] {
			t.Errorf("notInSnapshot names %s, which State no longer has", name)
		}
	}
}

// roundTripDiff encodes and decodes s and returns how the result differs
// (field by field, and as re-encoded bytes), or "".
func roundTripDiff(t testing.TB, s *State) string {
	enc := s.AppendSnapshot(nil)
	d, err := DecodeSnapshot(s.topo, enc)
	if err != nil {
		return "decode: " + err.Error()
	}
	if diff := stateDiff(d, s); diff != "" {
		return diff
	}
	if !bytes.Equal(d.AppendSnapshot(nil), enc) {
		return "the decoded state encodes differently"
	}
	if !d.Equal(s) {
		return "the decoded state's key differs"
	}
	return ""
}

// stateDiff compares two states field by field (the effect buffer and a
// clone's storage aside; nil and empty slices alike) and names the first
// difference.
func stateDiff(a, b *State) string {
	return valueDiff("State", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), false)
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// valueDiff names the first difference between a and b at path; with
// skipDerived it ignores the fields notInSnapshot lists.
func valueDiff(path string, a, b reflect.Value, skipDerived bool) string {
	if skipDerived {
		if _, ok := notInSnapshot[strings.TrimPrefix(indexRE.ReplaceAllString(path, ""), "State.")]; ok {
			return ""
		}
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			name := a.Type().Field(i).Name
			if storageFields[name] {
				continue
			}
			if d := valueDiff(path+"."+name, a.Field(i), b.Field(i), skipDerived); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d vs %d", path, a.Len(), b.Len())
		}
		if strings.HasSuffix(path, ".regionSizes") && a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: nil %v vs %v", path, a.IsNil(), b.IsNil())
		}
		for i := 0; i < a.Len(); i++ {
			if d := valueDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), skipDerived); d != "" {
				return d
			}
		}
		return ""
	case reflect.Pointer:
		if a.Type() == reflect.TypeOf((*jobConfig)(nil)) { // shared by clones, equal in value otherwise
			return valueDiff(path, a.Elem(), b.Elem(), skipDerived)
		}
		if a.Pointer() != b.Pointer() {
			return path + ": another pointer"
		}
		return ""
	}
	var x, y any
	switch a.Kind() {
	case reflect.Bool:
		x, y = a.Bool(), b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, y = a.Int(), b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, y = a.Uint(), b.Uint()
	case reflect.Float32, reflect.Float64:
		x, y = a.Float(), b.Float()
	case reflect.String:
		x, y = a.String(), b.String()
	default:
		return path + ": cannot compare a " + a.Type().String()
	}
	if x != y {
		return fmt.Sprintf("%s: %v vs %v", path, x, y)
	}
	return ""
}

// randomHistory steps a state through n random events (valid and invalid:
// the core refuses the invalid ones) and returns the accepted ones.
func randomHistory(rnd *rand.Rand, s *State, n int) []Event {
	var evs []Event
	request := int64(0)
	for tries := 0; len(evs) < n && tries < 20*n; tries++ {
		ev := Event{At: s.now, Type: EvTick}
		if rnd.IntN(3) == 0 {
			ev.At += []int64{1, 10, 100, 1000, 5000}[rnd.IntN(5)]
		}
		nt := s.topo.NumSubtasks()
		id := func() int64 { return 1 + rnd.Int64N(s.nextID+1) }
		switch k := rnd.IntN(20); {
		case s.job == JobCreated:
			ev.Type = EvStart
			if rnd.IntN(2) == 0 {
				ev.Restore = &Restore{Checkpoint: 3, Mode: RestoreMode(rnd.IntN(2))}
				if rnd.IntN(2) == 0 {
					ev.Restore.Refs = []RegionRef{{Region: rnd.IntN(s.topo.NumRegions()), Checkpoint: 2}}
				}
			}
		case k < 2:
			if due, ok := s.NextDeadline(); ok {
				ev.At = max(s.now, due)
			}
		case k == 2:
			ev.Type, ev.Kind = EvTrigger, Kind(rnd.IntN(3))
		case k < 9:
			ev.Type, ev.Checkpoint, ev.Task = EvAck, id(), TaskID(rnd.IntN(nt))
			ev.StateSize, ev.CheckpointedSize = rnd.Int64N(100), rnd.Int64N(100)
			if len(s.pending) > 0 {
				p := &s.pending[rnd.IntN(len(s.pending))]
				ev.Checkpoint = p.id
				if w := p.waiting.next(int(ev.Task)); w >= 0 {
					ev.Task = TaskID(w)
				} else if w := p.waiting.next(0); w >= 0 {
					ev.Task = TaskID(w)
				}
			}
		case k == 9:
			ev.Type, ev.Checkpoint, ev.Task = EvDecline, id(), TaskID(rnd.IntN(nt))
			ev.Reason = DeclineReasons[rnd.IntN(len(DeclineReasons))]
			if len(s.pending) > 0 {
				ev.Checkpoint = s.pending[rnd.IntN(len(s.pending))].id
			}
		case k == 10 || k == 16:
			ev.Type, ev.Task = []EventType{EvTaskFailed, EvTaskFailed, EvTaskRunning, EvTaskFinished}[rnd.IntN(4)], TaskID(rnd.IntN(nt))
		case k < 13:
			ev.Type, ev.Checkpoint = []EventType{EvPersisted, EvPersisted, EvPersistFailed}[rnd.IntN(3)], id()
			if len(s.pending) > 0 {
				ev.Checkpoint = s.pending[rnd.IntN(len(s.pending))].id
			}
		case k == 13:
			request++
			ev.Type, ev.Request = EvConfigPatch, request
			ev.HasInterval, ev.IntervalMs = rnd.IntN(2) == 0, 10+rnd.Int64N(2000)
			ev.HasTimeout, ev.TimeoutMs = !ev.HasInterval || rnd.IntN(2) == 0, 10+rnd.Int64N(3000)
		case k == 14:
			ev.Type, ev.Request = EvConfigPersisted, 1+rnd.Int64N(request+1)
		case k == 15 && rnd.IntN(4) == 0:
			ev.Type = EvRecover
		}
		if _, err := s.Step(ev); err == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// TestSnapshotRoundTripsRandomHistories: for random histories of random
// configurations and every prefix, Decode(Encode(s)) equals s field by field,
// and stepping the decoded state and the original with the rest of the
// history gives identical effects and equal states at every step.
func TestSnapshotRoundTripsRandomHistories(t *testing.T) {
	specs := []JobSpec{
		{Vertices: []VertexSpec{{ID: "a", Parallelism: 2, Coordinator: CoordinatorFallback}, {ID: "b", Parallelism: 2}},
			Edges: []EdgeSpec{{From: "a", To: "b"}}},
		{Vertices: []VertexSpec{{ID: "a", Parallelism: 3, Coordinator: CoordinatorPlain}, {ID: "b", Parallelism: 1}},
			Edges: []EdgeSpec{{From: "a", To: "b", Pattern: AllToAll}}},
		{Vertices: []VertexSpec{{ID: "a", Parallelism: 70}}},
	}
	variety := map[string]bool{}
	defer func() {
		for _, what := range []string{"pending", "persisting", "failed region", "region sizes", "patches",
			"counted ids", "skipped", "refs", "queued", "overrides", "restarting", "finished", "job ended"} {
			if !variety[what] && !t.Failed() {
				t.Errorf("no prefix had %s: the random histories are too weak", what)
			}
		}
	}()
	for seed := uint64(0); seed < 30; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 13))
		topo, err := NewTopology(specs[seed%uint64(len(specs))])
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.IntervalMs = []int64{0, 100, 1000}[rnd.IntN(3)]
		cfg.TimeoutMs = 500 + rnd.Int64N(3000)
		cfg.MinPauseMs = []int64{0, 50}[rnd.IntN(2)]
		cfg.MaxConcurrent, cfg.TolerableFailures, cfg.Retained = 1+rnd.IntN(3), rnd.IntN(3), 1+rnd.IntN(3)
		cfg.Regional.Enabled = rnd.IntN(4) > 0
		cfg.Regional.MaxRefAge = rnd.Int64N(4)
		cfg.Regional.MaxFailureRatio = []float64{0.3, 0.5, 1}[rnd.IntN(3)]
		s, err := New(topo, cfg)
		if err != nil {
			t.Fatal(err)
		}
		evs := randomHistory(rnd, s.Clone(), 120)
		// Effects of the original run, step by step.
		orig := s.Clone()
		var want [][]string
		for _, ev := range evs {
			effs, err := orig.Step(ev)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, describeAll(topo, effs))
		}
		cur := s.Clone()
		for k := 0; k <= len(evs); k++ {
			noteVariety(variety, cur)
			if d := roundTripDiff(t, cur); d != "" {
				t.Fatalf("seed %d, after %d events: %s", seed, k, d)
			}
			dec, _ := DecodeSnapshot(topo, cur.AppendSnapshot(nil))
			ref := cur.Clone()
			for j := k; j < len(evs); j++ {
				got, err := dec.Step(evs[j])
				if err != nil {
					t.Fatalf("seed %d, snapshot after %d events: event %d refused: %v", seed, k, j, err)
				}
				if g := describeAll(topo, got); !slicesEqual(g, want[j]) {
					t.Fatalf("seed %d, snapshot after %d events: event %d (%s): effects %v, the original's %v",
						seed, k, j, DescribeEvent(topo, evs[j]), g, want[j])
				}
				ref.Step(evs[j])
				if !dec.Equal(ref) {
					t.Fatalf("seed %d, snapshot after %d events: states differ after event %d", seed, k, j)
				}
			}
			if k < len(evs) {
				cur.Step(evs[k])
			}
		}
	}
}

// noteVariety records which kinds of content a state has.
func noteVariety(v map[string]bool, s *State) {
	for i := range s.pending {
		p := &s.pending[i]
		v["pending"] = true
		v["persisting"] = v["persisting"] || p.persisting
		v["failed region"] = v["failed region"] || p.failedCount > 0
		v["region sizes"] = v["region sizes"] || p.regionSizes != nil
	}
	for _, k := range s.known {
		v["refs"] = v["refs"] || len(k.refs) > 0
	}
	for _, st := range s.status {
		v["restarting"] = v["restarting"] || st == taskRestarting
		v["finished"] = v["finished"] || st == taskFinished
	}
	v["patches"] = v["patches"] || len(s.patches) > 0
	v["counted ids"] = v["counted ids"] || len(s.countedIDs) > 0
	v["skipped"] = v["skipped"] || len(s.skipped) > 0
	v["queued"] = v["queued"] || s.queuedManual > 0 || s.periodicQueued
	v["overrides"] = v["overrides"] || s.ovActive
	v["job ended"] = v["job ended"] || s.job == JobFailed || s.job == JobFinished
}

func describeAll(t *Topology, effs []Effect) []string {
	out := make([]string, len(effs))
	for i, e := range effs {
		out[i] = DescribeEffect(t, e)
	}
	return out
}

func slicesEqual(a, b []string) bool { return reflect.DeepEqual(a, b) || len(a) == 0 && len(b) == 0 }

// TestSnapshotRefusesMalformed: every truncation and every one-byte change of
// a snapshot either decodes to a state that round-trips or is refused with a
// *SnapshotError; trailing bytes, another job and another version are refused
// with errors that name them.
func TestSnapshotRefusesMalformed(t *testing.T) {
	s := snapshotTestState(t)
	enc := s.AppendSnapshot(nil)
	for n := 0; n < len(enc); n++ {
		if _, err := DecodeSnapshot(s.topo, enc[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes decodes", n, len(enc))
		} else if !errors.As(err, new(*SnapshotError)) {
			t.Fatalf("cut to %d bytes: %T %v", n, err, err)
		}
	}
	for i := range enc {
		for _, x := range []byte{1, 0x40, 0x80, 0xff} {
			b := bytes.Clone(enc)
			b[i] ^= x
			if d, err := DecodeSnapshot(s.topo, b); err == nil {
				if diff := roundTripDiff(t, d); diff != "" {
					t.Fatalf("byte %d ^ %#x decodes to a state that does not round-trip: %s", i, x, diff)
				}
			} else if !errors.As(err, new(*SnapshotError)) {
				t.Fatalf("byte %d ^ %#x: %T %v", i, x, err, err)
			}
		}
	}
	other, err := NewTopology(JobSpec{Vertices: []VertexSpec{{ID: "x", Parallelism: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(enc)
	bad[len(snapshotMagic)-1] = 2
	for _, c := range []struct {
		name string
		topo *Topology
		b    []byte
		want string
	}{
		{"trailing", s.topo, append(bytes.Clone(enc), 0), "end (byte"},
		{"other job", other, enc, "job.subtasks"},
		{"version", s.topo, bad, "layout version 2"},
		{"empty", s.topo, nil, "not a ckptcore snapshot"},
	} {
		if _, err := DecodeSnapshot(c.topo, c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
}

// FuzzDecodeSnapshot: no input panics the decoder; what it accepts
// re-encodes to the same bytes and can be stepped without a panic.
func FuzzDecodeSnapshot(f *testing.F) {
	topo, err := NewTopology(JobSpec{
		Vertices: []VertexSpec{{ID: "src", Parallelism: 2, Coordinator: CoordinatorFallback}, {ID: "sink", Parallelism: 2}},
		Edges:    []EdgeSpec{{From: "src", To: "sink"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	cfg := DefaultConfig()
	cfg.IntervalMs, cfg.TimeoutMs, cfg.MaxConcurrent, cfg.Regional.Enabled = 100, 1000, 2, true
	s, _ := New(topo, cfg)
	for i := 0; i < 8; i++ {
		randomHistory(rnd, s, 10)
		f.Add(s.AppendSnapshot(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(topo, b)
		if err != nil {
			if !errors.As(err, new(*SnapshotError)) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		if !bytes.Equal(s.AppendSnapshot(nil), b) {
			t.Fatalf("accepted a snapshot that re-encodes differently")
		}
		randomHistory(rand.New(rand.NewPCG(uint64(len(b)), 3)), s, 20)
	})
}
