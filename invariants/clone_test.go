package invariants

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/ckptcore/ckptcore/fsm"
)

// notInCheckerKey lists the Checker and Timing fields AppendKey leaves out,
// with why.
var notInCheckerKey = map[string]string{
	"topo":     "fixed per job",
	"tab":      "the base configuration and tables derived from the topology, fixed per job",
	"minPause": "Timing: the configuration's min_pause, fixed per job",
	"buf":      "storage reused between steps",
	"out":      "the last step's output",
}

// cloneTestEvents is a short regional history: a restore, a regional
// completion, a decline, a failover and a confirmed patch.
var cloneTestEvents = []fsm.Event{
	{At: 0, Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1}},
	{At: 1, Type: fsm.EvTrigger},
	{At: 2, Type: fsm.EvAck, Checkpoint: 2, Task: 0},
	{At: 3, Type: fsm.EvDecline, Checkpoint: 2, Task: 1},
	{At: 4, Type: fsm.EvPersisted, Checkpoint: 2},
	{At: 5, Type: fsm.EvTrigger},
	{At: 6, Type: fsm.EvTaskFailed, Task: 1},
	{At: 7, Type: fsm.EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 500},
	{At: 8, Type: fsm.EvConfigPersisted, Request: 1},
}

// cloneTestChecker runs cloneTestEvents.
func cloneTestChecker(t *testing.T) (*Checker, *fsm.State) {
	t.Helper()
	c, _, s := runCloneTest(t, cloneTestEvents)
	return c, s
}

// runCloneTest runs evs through a core and both checkers on the job of
// cloneTestEvents: two one-subtask regions of one vertex.
func runCloneTest(t *testing.T, evs []fsm.Event) (*Checker, *Timing, *fsm.State) {
	t.Helper()
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fsm.DefaultConfig()
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio, cfg.TolerableFailures = true, 0.5, 3
	s, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, tim := New(topo, cfg), NewTiming(topo, cfg)
	for _, ev := range evs {
		effs, err := s.Step(ev)
		if err != nil {
			t.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), err)
		}
		if v := append(c.Step(ev, effs, s), tim.Step(ev, effs, s)...); len(v) > 0 {
			t.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), v)
		}
	}
	return c, tim, s
}

// TestKeyRelabelMirrors: the key of a history renamed by a symmetry is the key
// of the mirrored history, whichever way it is computed: with the renaming
// (the explorer's symmetric pair keys) or plainly (its memo keys, which take
// the short path for an identity relabel). A key that only one path got
// right would split or merge the explorer's nodes.
func TestKeyRelabelMirrors(t *testing.T) {
	mirrored := slices.Clone(cloneTestEvents)
	for i := range mirrored {
		if mirrored[i].Type != fsm.EvStart {
			mirrored[i].Task = 1 - mirrored[i].Task // the job's two regions swap
		}
	}
	// Both histories end with both subtasks notified of nothing yet; add a
	// completion that notifies one of them, so the notified sets differ.
	tail := []fsm.Event{{At: 9, Type: fsm.EvTaskRunning, Task: 1}, {At: 10, Type: fsm.EvTrigger},
		{At: 11, Type: fsm.EvAck, Checkpoint: 4, Task: 0}, {At: 12, Type: fsm.EvDecline, Checkpoint: 4, Task: 1},
		{At: 13, Type: fsm.EvPersisted, Checkpoint: 4}}
	mirroredTail := slices.Clone(tail)
	for i := range mirroredTail {
		mirroredTail[i].Task = 1 - mirroredTail[i].Task
	}
	a, ta, s := runCloneTest(t, append(slices.Clone(cloneTestEvents), tail...))
	b, tb, _ := runCloneTest(t, append(mirrored, mirroredTail...))
	syms := s.Topology().Symmetries(0)
	if len(syms) != 2 {
		t.Fatalf("%d symmetries, want the identity and the swap", len(syms))
	}
	swap := syms[1].WithTimeBase(0)
	ident := syms[0].WithTimeBase(0)
	if bytes.Equal(a.AppendKey(nil, nil), b.AppendKey(nil, nil)) {
		t.Fatal("the mirrored history has the same plain key: the test proves nothing")
	}
	for _, k := range []struct {
		name string
		a, b []byte
	}{
		{"checker, swap vs plain", a.AppendKey(nil, &swap), b.AppendKey(nil, nil)},
		{"checker, swap vs identity", a.AppendKey(nil, &swap), b.AppendKey(nil, &ident)},
		{"checker, swap twice", a.AppendKey(nil, nil), b.AppendKey(nil, &swap)},
		{"timing, swap vs plain", ta.AppendKey(nil, &swap), tb.AppendKey(nil, nil)},
	} {
		if !bytes.Equal(k.a, k.b) {
			t.Errorf("%s: keys differ\n%x\n%x", k.name, k.a, k.b)
		}
	}
}

// TestCheckerKeyCoversEveryField perturbs each Checker field by reflection
// and checks that the key changes, unless notInCheckerKey lists the field: a
// field the harness adds to Checker fails here until AppendKey encodes it.
func TestCheckerKeyCoversEveryField(t *testing.T) {
	base, _ := cloneTestChecker(t)
	want := base.AppendKey(nil, nil)
	typ := reflect.TypeOf(*base)
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		c := base.Clone()
		f := reflect.ValueOf(c).Elem().Field(i)
		f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		if _, exempt := notInCheckerKey[name]; exempt {
			continue
		}
		if !perturbChecker(f) {
			t.Errorf("%s: cannot perturb a %s; encode it in AppendKey (clone.go) and teach the test", name, f.Type())
			continue
		}
		if bytes.Equal(c.AppendKey(nil, nil), want) {
			t.Errorf("%s changes nothing in the key: encode it in Checker.AppendKey (invariants/clone.go)", name)
		}
		if !bytes.Equal(base.AppendKey(nil, nil), want) {
			t.Fatalf("%s: perturbing the clone changed the original: Clone is not deep", name)
		}
	}
}

// TestTimingKeyCoversEveryField is TestCheckerKeyCoversEveryField for Timing.
func TestTimingKeyCoversEveryField(t *testing.T) {
	_, s := cloneTestChecker(t)
	base := NewTiming(s.Topology(), s.Config())
	base.Step(fsm.Event{At: 0, Type: fsm.EvStart, HasInitialDelay: true, InitialDelayMs: 10}, nil, s)
	want := base.AppendKey(nil, nil)
	typ := reflect.TypeOf(*base)
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		if _, exempt := notInCheckerKey[name]; exempt {
			continue
		}
		c := base.Clone()
		f := reflect.ValueOf(c).Elem().Field(i)
		f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		if !perturbChecker(f) {
			t.Errorf("%s: cannot perturb a %s; encode it in Timing.AppendKey (clone.go) and teach the test", name, f.Type())
			continue
		}
		if bytes.Equal(c.AppendKey(nil, nil), want) {
			t.Errorf("%s changes nothing in the key: encode it in Timing.AppendKey (invariants/clone.go)", name)
		}
		if !bytes.Equal(base.AppendKey(nil, nil), want) {
			t.Fatalf("%s: perturbing the clone changed the original: Clone is not deep", name)
		}
	}
}

func perturbChecker(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		v.SetMapIndex(reflect.ValueOf(int64(999)).Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			return true
		}
		return perturbChecker(v.Index(0))
	case reflect.Struct: // a record: perturb its first field
		f := v.Field(0)
		return perturbChecker(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem())
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			return true
		}
		v.Set(reflect.Zero(v.Type()))
	default:
		return false
	}
	return true
}

// TestCheckerCloneIndependent: stepping the original after a clone changes
// the original's key only.
func TestCheckerCloneIndependent(t *testing.T) {
	c, s := cloneTestChecker(t)
	d := c.Clone()
	before := d.AppendKey(nil, nil)
	if !bytes.Equal(before, c.AppendKey(nil, nil)) {
		t.Fatal("a clone's key differs")
	}
	id := s.Pending()[0].ID
	step := func(c *Checker, s *fsm.State, ev fsm.Event) {
		effs, err := s.Step(ev)
		if err != nil {
			t.Fatal(err)
		}
		if v := c.Step(ev, effs, s); len(v) > 0 {
			t.Fatal(v)
		}
	}
	ev := fsm.Event{At: 9, Type: fsm.EvAck, Checkpoint: id, Task: 0}
	step(c, s, fsm.Event{At: 9, Type: fsm.EvTaskRunning, Task: 1})
	step(c, s, ev)
	step(c, s, fsm.Event{At: 9, Type: fsm.EvAck, Checkpoint: id, Task: 1})
	step(c, s, fsm.Event{At: 9, Type: fsm.EvPersisted, Checkpoint: id})
	if !bytes.Equal(d.AppendKey(nil, nil), before) {
		t.Fatal("stepping the original changed the clone")
	}
	if bytes.Equal(c.AppendKey(nil, nil), before) {
		t.Fatal("a completion changed nothing in the original's key")
	}
}
