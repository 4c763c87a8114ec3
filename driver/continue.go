package driver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// continuation is a previous incarnation's flight file that this incarnation
// goes on writing: the core rebuilt by replaying it, and the events (with their
// effects) that reconcile that core with the store and recover it.
type continuation struct {
	path        string
	core        *fsm.State
	events      []fsm.Event
	effects     [][]fsm.Effect
	nextRequest int64
}

// continueFlight decides whether a resumed incarnation continues the previous
// flight file (see recorder). It returns nil and why not when it does not; an
// error only for what would stop Open anyway (the store does not fit the job).
// durable is the store as loaded, kept the same after num-retained (the state
// fsm.Resume would get).
func (d *Driver) continueFlight(opt Options, durable, kept fsm.Durable) (*continuation, string, error) {
	if opt.NoFlightRecorder || opt.FlightDir == "" {
		return nil, "", nil
	}
	n, err := nextFlightNumber(opt.FlightDir)
	if err != nil {
		return nil, err.Error(), nil
	}
	if n <= 1 {
		return nil, "no earlier flight file", nil
	}
	path := filepath.Join(opt.FlightDir, fmt.Sprintf("flight-%d.jsonl", n-1))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err.Error(), nil
	}
	if k := bytes.LastIndexByte(data, '\n'); k+1 < len(data) {
		// A torn last line (a crash during its write, or a power loss): it was
		// never complete, so the core's step it records is cut off with it.
		data = data[:k+1]
		if err := os.Truncate(path, int64(len(data))); err != nil {
			return nil, "truncating its torn last line: " + err.Error(), nil
		}
	}
	h, err := history.Decode(bytes.NewReader(data), path)
	if err != nil {
		return nil, filepath.Base(path) + " is not a complete history: " + err.Error(), nil
	}
	want, err := history.EncodeHeader(history.Header{Format: history.Format, Job: d.job, Config: d.cfg})
	if err != nil {
		return nil, err.Error(), nil
	}
	hdr := h.Header
	hdr.Format = history.Format
	if got, err := history.EncodeHeader(hdr); err != nil || !bytes.Equal(got, want) {
		return nil, filepath.Base(path) + " was written for another job or configuration", nil
	}
	c := &continuation{path: path}
	core, err := fsm.New(d.topo, d.cfg)
	if err != nil {
		return nil, err.Error(), nil
	}
	patches := map[int64]fsm.Effect{} // persist_overrides effects by request
	for _, rec := range h.Records {
		effs, err := core.Step(rec.Event)
		if err != nil {
			return nil, fmt.Sprintf("replaying %s line %d: %v", filepath.Base(path), rec.Line, err), nil
		}
		for _, e := range effs {
			if e.Type == fsm.EffPersistOverrides {
				patches[e.Request] = e
			}
		}
		if rec.Event.Type == fsm.EvConfigPatch {
			c.nextRequest = max(c.nextRequest, rec.Event.Request)
		}
	}
	at := d.clock.now(core.Now())
	resumed, _, err := fsm.Resume(d.topo, d.cfg, kept, at) // kept holds no orphan: no discards
	if err != nil {
		return nil, "", fmt.Errorf("driver: the store does not fit this job: %w", err)
	}
	step := func(ev fsm.Event) error {
		effs, err := core.Step(ev)
		if err != nil {
			return err
		}
		c.events = append(c.events, ev)
		c.effects = append(c.effects, copyEffects(effs))
		return nil
	}
	// Reconcile: a checkpoint whose metadata write finished before the crash,
	// but whose persisted event was not recorded, completed (R23, as Resume
	// has it); a patch whose overrides are in the store was confirmed (R63).
	for _, p := range core.Pending() {
		if p.Persisting && p.Kind == fsm.KindCheckpoint && holds(durable, p.ID) {
			if err := step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: p.ID}); err != nil {
				return nil, err.Error(), nil
			}
		}
	}
	if o := kept.Overrides; o != nil && !sameOverrides(core.Durable().Overrides, o) {
		pending := core.PendingPatches()
		for i := len(pending) - 1; i >= 0; i-- {
			if e, ok := patches[pending[i]]; ok && e.IntervalMs == o.IntervalMs && e.TimeoutMs == o.TimeoutMs {
				if err := step(fsm.Event{At: at, Type: fsm.EvConfigPersisted, Request: pending[i]}); err != nil {
					return nil, err.Error(), nil
				}
				break
			}
		}
	}
	if err := step(fsm.Event{At: at, Type: fsm.EvRecover}); err != nil {
		return nil, err.Error(), nil
	}
	if why := sameDurable(kept, core); why != "" {
		return nil, why, nil
	}
	if why := sameBehavior(resumed, core); why != "" {
		return nil, why, nil
	}
	c.core = core
	return c, "", nil
}

// holds reports whether the store holds checkpoint id's metadata.
func holds(d fsm.Durable, id int64) bool {
	for _, k := range d.Known {
		if k.ID == id {
			return true
		}
	}
	return false
}

func sameOverrides(a, b *fsm.EffectiveConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.IntervalMs == b.IntervalMs && a.TimeoutMs == b.TimeoutMs
}

// sameDurable returns "" when the replayed core's durable state is the store's,
// else the first difference. A store whose id counter is ahead of the file (a
// trigger's counter write whose trigger event the file lacks) differs too.
func sameDurable(store fsm.Durable, c *fsm.State) string {
	got := c.Durable()
	diff := func(what string, x, y any) string { return fmt.Sprintf("%s: store %v, history %v", what, x, y) }
	switch {
	case store.NextID != got.NextID:
		return diff("next id", store.NextID, got.NextID)
	case !sameOverrides(store.Overrides, got.Overrides):
		return diff("overrides", store.Overrides, got.Overrides)
	case store.RestoredID != got.RestoredID || store.NoClaim != got.NoClaim:
		return diff("restored snapshot", fmt.Sprint(store.RestoredID, store.NoClaim), fmt.Sprint(got.RestoredID, got.NoClaim))
	case len(store.Known) != len(got.Known):
		return diff("known checkpoints", ids(store.Known), ids(got.Known))
	}
	for i, x := range store.Known {
		y := got.Known[i]
		if x.ID != y.ID || x.Mode != y.Mode || x.Consecutive != y.Consecutive || x.Retained != y.Retained ||
			x.Owned != y.Owned || x.Restored != y.Restored || !sameRefs(x.Refs, y.Refs) {
			return diff("known checkpoints", fmt.Sprintf("%+v", x), fmt.Sprintf("%+v", y))
		}
	}
	var want []int64
	for _, k := range store.Known {
		if k.Retained {
			want = append(want, k.ID)
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(c.Retained()) {
		return diff("retained", want, c.Retained())
	}
	if l, ok := c.LatestCompleted(); ok && l.Consecutive != c.Consecutive() {
		return diff("consecutive regional completions", l.Consecutive, c.Consecutive())
	}
	return ""
}

// continueRecorder reopens the previous incarnation's file for appending and
// writes the reconciliation and recover events with their effects.
func (d *Driver) continueRecorder(c *continuation) error {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	d.rec = &recorder{f: f, topo: d.topo, path: c.path}
	for i, ev := range c.events {
		if err := d.rec.write(ev, c.effects[i]); err != nil {
			return fmt.Errorf("driver: flight recorder: %w", err)
		}
	}
	return nil
}
