package fsm

import (
	"slices"
	"strings"
	"testing"
)

// WithConfig: the same state under another configuration. The new core's
// snapshot is the old one's with only the configuration replaced, and the
// original is unchanged. With regional mode turned on, a checkpoint triggered
// afterwards survives a region's failure (R18) while the original core aborts
// it; a checkpoint already pending keeps the global path it was triggered on
// (R17: the path is decided at the trigger). An invalid configuration is
// refused, nothing built.
func TestWithConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	s := twoByTwo(t, cfg)
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1000, Type: EvTick})
	for task := range TaskID(4) {
		run(t, s, Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: task})
	}
	run(t, s, Event{At: 1020, Type: EvPersisted, Checkpoint: 1})
	if _, ok := s.LatestCompleted(); len(s.Pending()) != 0 || !ok || s.topo.NumRegions() != 2 {
		t.Fatalf("setup: %d pending, %d regions", len(s.Pending()), s.topo.NumRegions())
	}
	alt := cfg
	alt.Regional.Enabled, alt.Regional.MaxFailureRatio = true, 0.5
	reconfigure := func(s *State) *State {
		t.Helper()
		before := s.AppendSnapshot(nil)
		r, err := s.WithConfig(alt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Config() != alt || !r.RegionalMode() || s.Config() != cfg || !slices.Equal(s.AppendSnapshot(nil), before) {
			t.Fatalf("configs %+v / %+v; the original changed: %v", r.Config(), s.Config(), !slices.Equal(s.AppendSnapshot(nil), before))
		}
		same := *r
		same.cfg = newJobConfig(cfg)
		if !slices.Equal(same.AppendSnapshot(nil), before) {
			t.Fatal("WithConfig changed more than the configuration")
		}
		return r
	}
	aborts2 := func(effs []string) bool {
		return slices.ContainsFunc(effs, func(e string) bool { return strings.HasPrefix(e, "abort 2 ") })
	}
	fail := Event{At: 2100, Type: EvTaskFailed, Task: 0}

	r := reconfigure(s)
	tick := Event{At: 2000, Type: EvTick}
	run(t, s, tick)
	run(t, r, tick)
	if got := run(t, s, fail); !aborts2(got) {
		t.Errorf("global core on a failure: %q, want checkpoint 2 aborted", got)
	}
	if got := run(t, r, fail); len(r.Pending()) != 1 || aborts2(got) {
		t.Errorf("regional core on a failure: %q, %d pending; want checkpoint 2 kept, its region failed", got, len(r.Pending()))
	}

	s = twoByTwo(t, cfg)
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1000, Type: EvTick})
	for task := range TaskID(4) {
		run(t, s, Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: task})
	}
	run(t, s, Event{At: 1020, Type: EvPersisted, Checkpoint: 1}, tick)
	r = reconfigure(s) // checkpoint 2 pending, triggered on the global path
	if got := run(t, r, fail); !aborts2(got) {
		t.Errorf("a checkpoint pending at the change: %q, want it aborted as triggered (global path)", got)
	}

	bad := cfg
	bad.IntervalMs = -1
	if _, err := s.WithConfig(bad); err == nil {
		t.Error("an invalid configuration was accepted")
	}
}
