package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// FlightChain is what CheckFlightChain found: how many files and events.
type FlightChain struct {
	Files  int
	Events int
	// Rotated counts the files that start with a snapshot record: a rotation
	// inside an incarnation (rotate.go).
	Rotated int
}

// CheckFlightChain checks that a job's flight files (flight-<n>.jsonl or
// flight-<n>.bin, NDJSON or binary, in dir by n) are one history that
// reproduces the store: each file replays with every invariant holding and
// no recorded effect diverging (as `replay` does), and the durable state each
// one ends in is the state the next one resumes from — for the last one, store, the store's durable state as loaded —
// once what a crash can leave undone is accounted for:
//
//   - a checkpoint whose metadata write finished but whose persisted event was
//     not recorded: the store holds it, so it completed (R23);
//   - a patch whose overrides were written but whose config_persisted event
//     was not recorded: the store holds its values, so it was confirmed (R63);
//   - an id counter write that did not happen: the store's counter is behind
//     the file's, and the trigger never went out (the counter is durable
//     before a trigger is sent, R14), so the next incarnation may hand the id
//     out again;
//   - discards not carried out: the store still holds checkpoints the file
//     discarded; fsm.Resume drops them again (R40).
//
// A file that starts with a snapshot record (a rotation inside one
// incarnation) continues the previous file exactly: the previous file's end
// state must equal the snapshot (fsm State.Equal), with nothing to reconcile.
//
// The durable states are compared as the cores fsm.Resume builds from them
// (fsm State.Equal), after the retention fsm.Resume applies (R40).
func CheckFlightChain(dir string, store fsm.Durable) (FlightChain, error) {
	var chain FlightChain
	files, err := flightPaths(dir)
	if err != nil {
		return chain, err
	}
	if len(files) == 0 {
		return chain, fmt.Errorf("%s: no flight files", dir)
	}
	// The patches whose persist_overrides went out, carried across rotations:
	// a patch may wait for its confirmation in the next file.
	var patches map[int64]fsm.Effect
	for i, path := range files {
		if err := replayFlight(path); err != nil {
			return chain, err
		}
		end, err := endOfFlight(path, patches)
		if err != nil {
			return chain, err
		}
		chain.Files++
		chain.Events += end.events
		next, what := store, "the store"
		if i+1 < len(files) {
			first, err := firstRecord(files[i+1])
			if err != nil {
				return chain, err
			}
			if first.Snapshot != nil {
				chain.Rotated++
				if !end.core.Equal(first.Snapshot) {
					return chain, fmt.Errorf("%s ends in a state that is not %s's snapshot record:\n  file ends %s\n  snapshot  %s",
						path, filepath.Base(files[i+1]), describeCore(end.core), describeCore(first.Snapshot))
				}
				patches = end.patches
				continue
			}
			if first.Resume == nil {
				return chain, fmt.Errorf("%s:%d: a later file must start with a resume or snapshot record", files[i+1], first.Line)
			}
			next, what, patches = *first.Resume, filepath.Base(files[i+1])+"'s resume record", nil
		}
		if why := end.reconcile(next); why != "" {
			return chain, fmt.Errorf("%s ends in a state that is not %s: %s", path, what, why)
		}
	}
	return chain, nil
}

// flightPaths lists flight-<n>.jsonl and flight-<n>.bin in dir by n.
func flightPaths(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type file struct {
		n    int
		path string
	}
	var fs []file
	for _, e := range entries {
		if n, ok := flightNumber(e.Name()); ok {
			fs = append(fs, file{n, filepath.Join(dir, e.Name())})
		}
	}
	sort.Slice(fs, func(a, b int) bool { return fs[a].n < fs[b].n })
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.path
	}
	return out, nil
}

// replayFlight replays a file as `replay` does: streamed, invariants checked,
// recorded effects compared.
func replayFlight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := history.NewReader(f, path)
	if err != nil {
		return err
	}
	res, err := history.ReplayReader(r, history.Options{Check: true, CountsOnly: true})
	if err != nil {
		return err
	}
	if len(res.Summary.Violations) > 0 {
		v := res.Summary.Violations[0]
		return fmt.Errorf("%s:%d: %s violated after %s: %s", path, v.Line, v.Invariant, v.Event, v.Detail)
	}
	if res.Divergence != nil {
		return res.Divergence
	}
	return nil
}

// flightEnd is the core a file ends in, and the overrides each of its
// patches asked to persist.
type flightEnd struct {
	topo    *fsm.Topology
	cfg     fsm.Config
	core    *fsm.State
	patches map[int64]fsm.Effect // persist_overrides by request
	events  int
}

// endOfFlight steps a fresh core through a file (already replayed, so valid);
// patches are the persist_overrides of the files it continues (nil: none).
func endOfFlight(path string, patches map[int64]fsm.Effect) (*flightEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := history.NewReader(f, path)
	if err != nil {
		return nil, err
	}
	e := &flightEnd{topo: r.Topology(), cfg: r.Header().Config, patches: map[int64]fsm.Effect{}}
	for id, x := range patches {
		e.patches[id] = x
	}
	if e.core, err = fsm.New(e.topo, e.cfg); err != nil {
		return nil, err
	}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return e, nil
		}
		if err != nil {
			return nil, err
		}
		e.events++
		if rec.Resume != nil {
			if e.core, _, err = fsm.Resume(e.topo, e.cfg, *rec.Resume, rec.Event.At); err != nil {
				return nil, err
			}
			continue
		}
		if rec.Snapshot != nil {
			e.core = rec.Snapshot.Clone()
			continue
		}
		effs, err := e.core.Step(rec.Event)
		if err != nil {
			return nil, err
		}
		for _, x := range effs {
			if x.Type == fsm.EffPersistOverrides {
				e.patches[x.Request] = x
			}
		}
	}
}

// firstRecord returns a file's first record.
func firstRecord(path string) (history.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return history.Record{}, err
	}
	defer f.Close()
	r, err := history.NewReader(f, path)
	if err != nil {
		return history.Record{}, err
	}
	return r.Next()
}

// describeCore names what two cores that should be equal may differ in.
func describeCore(s *fsm.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@%d %s next_id=%d failures=%d consecutive=%d pending=[", s.Now(), s.Job(), s.NextID(), s.Failures(), s.Consecutive())
	s.EachPending(func(p fsm.PendingInfo) bool {
		fmt.Fprintf(&b, " %d(%s persisting=%t)", p.ID, p.Kind, p.Persisting)
		return true
	})
	fmt.Fprintf(&b, " ] patches=%v %s", s.PendingPatches(), describeDurable(s.Durable()))
	return b.String()
}

// reconcile applies to the file's end state what the store proves happened
// after its last line (see CheckFlightChain) and a recovery, and returns ""
// when the result is the durable state next, else the difference.
func (e *flightEnd) reconcile(next fsm.Durable) string {
	core := e.core
	at := core.Now()
	for _, p := range core.Pending() {
		if p.Persisting && p.Kind == fsm.KindCheckpoint && holds(next, p.ID) {
			if _, err := core.Step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: p.ID}); err != nil {
				return err.Error()
			}
		}
	}
	if o := next.Overrides; o != nil && !sameOverrides(core.Durable().Overrides, o) {
		pending := core.PendingPatches()
		for i := len(pending) - 1; i >= 0; i-- {
			if x, ok := e.patches[pending[i]]; ok && x.IntervalMs == o.IntervalMs && x.TimeoutMs == o.TimeoutMs {
				if _, err := core.Step(fsm.Event{At: at, Type: fsm.EvConfigPersisted, Request: pending[i]}); err != nil {
					return err.Error()
				}
				break
			}
		}
	}
	if _, err := core.Step(fsm.Event{At: at, Type: fsm.EvRecover}); err != nil {
		return err.Error()
	}
	got := core.Durable()
	if next.NextID > got.NextID {
		return fmt.Sprintf("next id: the file ends at %d, but %d was made durable", got.NextID, next.NextID)
	}
	next.NextID = got.NextID // a counter write that did not happen (R14)
	a, _, err := fsm.Resume(e.topo, e.cfg, next, at)
	if err != nil {
		return "the next state does not resume: " + err.Error()
	}
	b, _, err := fsm.Resume(e.topo, e.cfg, got, at)
	if err != nil {
		return "the file's state does not resume: " + err.Error()
	}
	if !a.Equal(b) {
		return fmt.Sprintf("durable state differs:\n  file ends %s\n  next     %s", describeDurable(got), describeDurable(next))
	}
	return ""
}

// holds reports whether durable state d holds checkpoint id's metadata.
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

func describeDurable(d fsm.Durable) string {
	var b strings.Builder
	fmt.Fprintf(&b, "next_id=%d", d.NextID)
	for _, k := range d.Known {
		fmt.Fprintf(&b, " %d(%s consecutive=%d retained=%t owned=%t restored=%t", k.ID, k.Mode, k.Consecutive, k.Retained, k.Owned, k.Restored)
		for _, r := range k.Refs {
			fmt.Fprintf(&b, " %s->%d", fsm.RegionName(r.Region), r.Checkpoint)
		}
		b.WriteString(")")
	}
	if o := d.Overrides; o != nil {
		fmt.Fprintf(&b, " overrides=%d/%d", o.IntervalMs, o.TimeoutMs)
	}
	if d.RestoredID > 0 {
		fmt.Fprintf(&b, " restored=%d no_claim=%t", d.RestoredID, d.NoClaim)
	}
	return b.String()
}
