package invariants

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"

	"github.com/ckptcore/ckptcore/fsm"
)

// notInCheckerKey lists the Checker fields AppendKey leaves out, with why.
var notInCheckerKey = map[string]string{
	"topo": "fixed per job",
	"cfg":  "fixed per job",
	"out":  "the last step's output",
}

// cloneTestChecker runs a short regional history: a restore, a regional
// completion, a decline, a failover and a confirmed patch.
func cloneTestChecker(t *testing.T) (*Checker, *fsm.State) {
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
	c := New(topo, cfg)
	for _, ev := range []fsm.Event{
		{At: 0, Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1}},
		{At: 1, Type: fsm.EvTrigger},
		{At: 2, Type: fsm.EvAck, Checkpoint: 2, Task: 0},
		{At: 3, Type: fsm.EvDecline, Checkpoint: 2, Task: 1},
		{At: 4, Type: fsm.EvPersisted, Checkpoint: 2},
		{At: 5, Type: fsm.EvTrigger},
		{At: 6, Type: fsm.EvTaskFailed, Task: 1},
		{At: 7, Type: fsm.EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 500},
		{At: 8, Type: fsm.EvConfigPersisted, Request: 1},
	} {
		effs, err := s.Step(ev)
		if err != nil {
			t.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), err)
		}
		if v := c.Step(ev, effs, s); len(v) > 0 {
			t.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), v)
		}
	}
	return c, s
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
