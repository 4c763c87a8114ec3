package fsm

import (
	"cmp"
	"fmt"
	"slices"
)

// Durable is what survives a coordinator failover (R50): the completed store with
// its metadata (refs and consecutive count), the id counter, the confirmed config
// overrides and the restored snapshot. A runtime persists it (the persist and
// persist_overrides effects carry every part) and hands it to Resume.
type Durable struct {
	NextID     int64
	Known      []StoredCheckpoint // retained checkpoints and those their refs keep alive, by id
	Overrides  *EffectiveConfig   // nil when no patch was ever confirmed
	RestoredID int64
	NoClaim    bool
}

// Durable returns the durable part of the state (R50).
func (s *State) Durable() Durable {
	d := Durable{NextID: s.nextID, Known: s.Known(), RestoredID: s.restoredID, NoClaim: s.noClaim}
	if s.ovActive {
		e := s.Effective()
		d.Overrides = &e
	}
	return d
}

// Resume rebuilds a core from durable state after a coordinator failover, as the
// recover event leaves it (R50): the job running at time at with every subtask
// running, no pending checkpoint, the consecutive counter read back from the
// latest completed checkpoint's metadata, the overrides in force again (R63).
//
// It is a step of the core and returns its effects (valid until the next Step
// or Clone, like Step's). Retention is the core's decision (R40): of the stored
// checkpoints, the latest cfg.Retained (not counting the older checkpoints a
// restored snapshot references, which never were in the store) are retained,
// an older one stays while a retained one references it, and every other one
// the job owns gets a discard — a crash came between the completion that
// released it and its discard. Durable.Known's Retained flags are not read.
//
// A stored checkpoint is retained only if every checkpoint its regions use is
// still in the store (R40, I-RetentionSafety): one kept only because a
// retained checkpoint used it may use, for another region, state that was
// discarded since (nothing retained used that), and a restart with a larger
// cfg.Retained must not make it restorable again. Such a checkpoint is skipped
// with a warn effect (WarnMissingRef) naming the missing reference and does
// not count toward cfg.Retained; it stays while a retained checkpoint uses it
// and is discarded otherwise, like any checkpoint that is not retained
// (docs/DECISIONS.md#resume-missing-ref).
func Resume(topo *Topology, cfg Config, d Durable, at int64) (*State, []Effect, error) {
	s, err := New(topo, cfg)
	if err != nil {
		return nil, nil, err
	}
	if d.NextID < 1 || d.NextID > MaxSafeInt+1 || at < 0 || at > MaxSafeInt {
		// NextID may be 2^53: every id was allocated (R14, ids_exhausted).
		return nil, nil, fmt.Errorf("fsm: resume: next id %d or time %d out of range", d.NextID, at)
	}
	for i, k := range d.Known {
		if k.ID < 1 || k.ID >= d.NextID || (i > 0 && d.Known[i-1].ID >= k.ID) {
			return nil, nil, fmt.Errorf("fsm: resume: checkpoint %d: ids must increase and stay below the next id %d (I-MonotonicIds)", k.ID, d.NextID)
		}
		for j, r := range k.Refs {
			if r.Region < 0 || r.Region >= topo.NumRegions() || r.Checkpoint >= k.ID || r.Checkpoint < 1 ||
				(j > 0 && k.Refs[j-1].Region >= r.Region) {
				return nil, nil, fmt.Errorf("fsm: resume: checkpoint %d: bad reference %s->%d (I-RegionConsistency)", k.ID, RegionName(r.Region), r.Checkpoint)
			}
		}
		s.known = append(s.known, knownCheckpoint{id: k.ID, refs: append([]RegionRef(nil), k.Refs...), mode: k.Mode,
			consecutive: k.Consecutive, owned: k.Owned, restored: k.Restored})
	}
	if o := d.Overrides; o != nil {
		if err := validInterval(o.IntervalMs); err != nil {
			return nil, nil, fmt.Errorf("fsm: resume: overrides: %w", err)
		}
		if err := validTimeout(o.TimeoutMs, cfg.MaxTimeoutMs); err != nil {
			return nil, nil, fmt.Errorf("fsm: resume: overrides: %w", err)
		}
		s.ovActive, s.ovInterval, s.ovTimeout = true, o.IntervalMs, o.TimeoutMs
	}
	s.nextID, s.restoredID, s.noClaim = d.NextID, d.RestoredID, d.NoClaim
	s.job, s.now = JobRunning, at
	retainedN := 0
	for i := len(s.known) - 1; i >= 0 && retainedN < cfg.Retained; i-- {
		k := &s.known[i]
		if k.restored && k.id != d.RestoredID {
			continue
		}
		if r, ok := s.missingRef(k); ok {
			var buf [192]byte
			s.emit(Effect{Type: EffWarn, Checkpoint: k.id, Code: WarnMissingRef, Message: msg(buf[:0]).
				s("checkpoint ").d(k.id).s(" is not retained: its region ").region(r.Region).s(" uses checkpoint ").
				d(r.Checkpoint).s(", which the store no longer holds (its state was discarded; R40, I-RetentionSafety)").
				String()})
			continue
		}
		k.retained = true
		retainedN++
	}
	s.discardUnneeded()
	s.recover()
	return s, s.effects, nil
}

// missingRef returns the first reference of k to a checkpoint s does not know
// (s.known is sorted by id), if any.
func (s *State) missingRef(k *knownCheckpoint) (RegionRef, bool) {
	for _, r := range k.refs {
		if _, found := slices.BinarySearchFunc(s.known, r.Checkpoint, func(c knownCheckpoint, id int64) int {
			return cmp.Compare(c.id, id)
		}); !found {
			return r, true
		}
	}
	return RegionRef{}, false
}
