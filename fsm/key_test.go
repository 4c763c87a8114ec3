package fsm

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

// notInKey lists the fields AppendKey leaves out, each with why (key.go's
// section comment): a field is either in the key or here.
var notInKey = map[string]string{
	"topo":                 "shared immutable topology",
	"effects":              "effect buffer, valid until the next Step",
	"block":                "a clone's storage (clone.go), not state",
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

// storageFields are State's fields that hold storage, not state: the
// reflective tests do not perturb them (the clone block backs other fields,
// so writing into it would change those).
var storageFields = map[string]bool{"effects": true, "block": true}

// keyTestState is a state in which every field holds a value that matters:
// flags that guard other fields (periodicOn, hasLastComplete) are set, and
// every slice has an element.
func keyTestState(t *testing.T) *State {
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
	p.acked.set(0)
	p.regionSizes = []ackSizes{{state: 1, checkpointed: 2}, {}}
	p.stateSize, p.checkpointedSize = 3, 4
	p.failed.set(1)
	p.firstCause, p.refs, p.consecutive, p.activeRegions = "declined", []RegionRef{{Region: 1, Checkpoint: 2}}, 1, 2
	s.known[0].refs = []RegionRef{{Region: 1, Checkpoint: 2}}
	s.hasLastComplete, s.lastComplete = true, 900
	s.countedIDs, s.failures, s.lastSucceeded = []int64{3}, 1, 2
	s.skipped = []skipNotice{{checkpoint: 5, region: 1}}
	s.queuedManual, s.completing = 1, 5
	return s
}

// TestKeyCoversEveryField perturbs each field of State (and of the records
// it holds) by reflection and checks that the key changes, unless the field is
// listed in notInKey. A field added to State without being encoded fails here.
func TestKeyCoversEveryField(t *testing.T) {
	base := keyTestState(t)
	want := base.AppendKey(nil)
	seen := map[string]bool{}
	var visit func(path string, get func(*State) reflect.Value)
	visit = func(path string, get func(*State) reflect.Value) {
		v := get(base)
		if visitConfig(path, v, get, visit) {
			return
		}
		if storageFields[path] || v.Kind() == reflect.Pointer {
			seen[path] = true
			if _, ok := notInKey[path]; !ok {
				t.Errorf("%s: a pointer field; encode what it points to or list it in notInKey", path)
			}
			return
		}
		switch {
		case v.Kind() == reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				i := i
				visit(join(path, v.Type().Field(i).Name), func(s *State) reflect.Value { return get(s).Field(i) })
			}
			return
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
			if v.Len() == 0 {
				t.Fatalf("%s: keyTestState leaves it empty", path)
			}
			visit(path, func(s *State) reflect.Value { return get(s).Index(0) })
			return
		}
		seen[path] = true
		c := unshareConfig(base.Clone())
		if !perturb(writable(get(c))) {
			if _, ok := notInKey[path]; !ok {
				t.Errorf("%s: cannot perturb a %s; encode it or list it in notInKey", path, v.Type())
			}
			return
		}
		c.cfg.key = appendConfig(nil, &c.cfg.Config)
		changed := !bytes.Equal(c.AppendKey(nil), want)
		_, exempt := notInKey[path]
		switch {
		case !changed && !exempt:
			t.Errorf("%s changes nothing in the key: encode it in AppendKey (fsm/key.go) or list it in notInKey with why", path)
		case changed && exempt:
			t.Errorf("%s is listed in notInKey but changes the key", path)
		}
	}
	visit("", func(s *State) reflect.Value { return reflect.ValueOf(s).Elem() })
	for name := range notInKey {
		if !seen[name] {
			t.Errorf("notInKey names %s, which State no longer has", name)
		}
	}
}

// visitConfig visits the fields of the configuration when v is the State's
// shared *jobConfig, and reports whether it was: the configuration is part
// of the state, held by pointer so that clones share it.
func visitConfig(path string, v reflect.Value, get func(*State) reflect.Value,
	visit func(string, func(*State) reflect.Value)) bool {
	if v.Type() != reflect.TypeOf((*jobConfig)(nil)) {
		return false
	}
	visit(path, func(s *State) reflect.Value { return get(s).Elem().FieldByName("Config") })
	return true
}

// unshareConfig gives s a private copy of its configuration, which clones
// share and nothing else writes: a test may then perturb it (and must then
// re-encode its key, as newJobConfig does).
func unshareConfig(s *State) *State {
	s.cfg = &jobConfig{Config: s.cfg.Config, key: s.cfg.key}
	return s
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// writable makes an unexported field settable (test-only).
func writable(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// perturb changes v to another value of its type; false when it cannot.
func perturb(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() ^ 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 0.125)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Slice:
		if v.Len() == 0 {
			return false
		}
		return perturb(v.Index(0))
	default:
		return false
	}
	return true
}

// TestKeyOfClone: a clone has the original's key and is Equal to it; a step
// that changes the state changes the key.
func TestKeyOfClone(t *testing.T) {
	s := keyTestState(t)
	c := s.Clone()
	if !s.Equal(c) || !bytes.Equal(s.AppendKey(nil), c.AppendKey(nil)) {
		t.Fatal("a clone's key differs")
	}
	run(t, c, Event{At: 1002, Type: EvAck, Checkpoint: s.pending[0].id, Task: 2})
	if s.Equal(c) {
		t.Fatal("an ack left the key unchanged")
	}
}

// TestSymmetriesMirror: the relabeled key of a state is the key of the state
// reached by the mirrored history (every subtask and region renamed).
func TestSymmetriesMirror(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio = true, 0.5
	a, b := twoByTwo(t, cfg), twoByTwo(t, cfg)
	syms := a.topo.Symmetries(0)
	if len(syms) != 2 || !syms[0].Identity() || syms[1].Identity() {
		t.Fatalf("2x2 pipeline: %d symmetries, want the identity and the region swap", len(syms))
	}
	swap := &syms[1]
	if swap.Task(0) != 1 || swap.Task(2) != 3 || swap.Region(0) != 1 {
		t.Fatalf("swap maps src/0 to %d, sink/0 to %d, r0 to %d", swap.Task(0), swap.Task(2), swap.Region(0))
	}
	evs := []Event{
		{At: 0, Type: EvStart, Restore: &Restore{Checkpoint: 3, Refs: []RegionRef{{Region: 0, Checkpoint: 2}}}},
		{At: 1000, Type: EvTick},
		{At: 1001, Type: EvAck, Checkpoint: 4, Task: 0},
		{At: 1002, Type: EvDecline, Checkpoint: 4, Task: 1},
		{At: 1003, Type: EvAck, Checkpoint: 4, Task: 2},
		{At: 1004, Type: EvTaskFailed, Task: 3},
	}
	mirror := func(ev Event) Event {
		m := ev
		if ev.Type == EvAck || ev.Type == EvDecline || ev.Type == EvTaskFailed {
			m.Task = swap.Task(ev.Task)
		}
		if ev.Restore != nil {
			r := *ev.Restore
			r.Refs = []RegionRef{{Region: swap.Region(0), Checkpoint: 2}}
			m.Restore = &r
		}
		return m
	}
	for i, ev := range evs {
		run(t, a, ev)
		run(t, b, mirror(ev))
		if !bytes.Equal(a.AppendKeyRelabeled(nil, swap), b.AppendKey(nil)) {
			t.Fatalf("after event %d: the swapped key of a differs from the key of the mirrored run", i)
		}
		if i > 0 && bytes.Equal(a.AppendKey(nil), b.AppendKey(nil)) {
			t.Fatalf("after event %d: the mirrored run has the same plain key: the test shows nothing", i)
		}
	}
	base := swap.WithTimeBase(a.now)
	if bytes.Equal(a.AppendKeyRelabeled(nil, &base), a.AppendKeyRelabeled(nil, swap)) {
		t.Fatal("the time base changes nothing")
	}
}

// TestSymmetriesGroup: three one-subtask regions give the six permutations;
// regions of different shapes are never swapped; the bound cuts the group.
func TestSymmetriesGroup(t *testing.T) {
	topo, err := NewTopology(JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	syms := topo.Symmetries(0)
	var images [][]int
	for _, r := range syms {
		img := []int{r.Region(0), r.Region(1), r.Region(2)}
		if slices.ContainsFunc(images, func(x []int) bool { return slices.Equal(x, img) }) {
			t.Fatalf("permutation %v twice", img)
		}
		images = append(images, img)
	}
	if len(images) != 6 {
		t.Fatalf("%d permutations of 3 regions, want 6", len(images))
	}
	if n := len(topo.Symmetries(5)); n != 1 {
		t.Fatalf("bound 5: %d symmetries, want the identity only", n)
	}
	mixed, err := NewTopology(JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 2}, {ID: "b", Parallelism: 1, Coordinator: CoordinatorFallback}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mixed.Symmetries(0)); n != 2 {
		t.Fatalf("a(2) b(1): %d symmetries, want 2 (a/0 and a/1 swap; b/0 has a coordinator)", n)
	}
}
