package corefuzz

import (
	"reflect"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// roundTrip checks that every event the core accepted is one a history can
// hold: written as the flight recorder writes it, it decodes back to itself
// (issue 13: a rejected PATCH below −(2^53−1) was recorded and then refused by
// the decoder, so the file did not replay).
//
// Only the events with free numbers besides ids and times are checked (start's
// delay and restore, a patch's values): the others' fields the core bounds like
// the decoder.
//
// The strict decoder is most of a round trip's cost, and the fuzzer runs
// mutants of one input over and over, so that most of these events recur. An
// event whose round trip held is remembered (the round trip is a pure
// function of the event and, for a start naming regions, its job) and not
// encoded or decoded again.
func (r *coreRun) roundTrip() {
	for i := range r.evs {
		ev := &r.evs[i]
		switch ev.Type {
		case fsm.EvConfigPatch:
			// A patch names no subtask or region: its line is a function of
			// the event alone.
			if _, ok := patchesHeld[*ev]; ok {
				continue
			}
			r.roundTripOne(*ev)
			remember(patchesHeld, *ev)
		case fsm.EvStart:
			k, ok := startKeyOf(r.topo, *ev)
			if ok {
				if _, held := startsHeld[k]; held {
					continue
				}
			}
			r.roundTripOne(*ev)
			if ok {
				remember(startsHeld, k)
			}
		}
	}
}

// roundTripOne encodes ev as a history line and decodes it back.
func (r *coreRun) roundTripOne(ev fsm.Event) {
	line, err := history.EncodeEvent(r.topo, ev, nil)
	if err != nil {
		r.fail("history", "%s does not encode: %v", fsm.DescribeEvent(r.topo, ev), err)
	}
	rec, err := history.DecodeEventLine(r.topo, line)
	if err != nil {
		r.fail("history", "%s is recorded as %s, which does not decode: %v", fsm.DescribeEvent(r.topo, ev), line, err)
	}
	if !reflect.DeepEqual(rec.Event, ev) {
		r.fail("history", "%s decodes to %+v, recorded %+v", line, rec.Event, ev)
	}
}

// maxHeld bounds each memory of round trips that held; each fuzzing worker is
// one process running one input at a time, and a full memory starts over.
const maxHeld = 1 << 14

func remember[K comparable](m map[K]struct{}, k K) {
	if len(m) >= maxHeld {
		clear(m)
	}
	m[k] = struct{}{}
}

// patchesHeld holds the patch events whose round trip held.
var patchesHeld = map[fsm.Event]struct{}{}

// startsHeld holds the start events whose round trip held, for their job.
var startsHeld = map[startKey]struct{}{}

// maxStartRefs is the most regions a generated job has (3 vertices of
// parallelism 3 without edges): a restore references at most that many.
const maxStartRefs = maxVertices * 3

// startKey is a start event, restore included, in comparable form, with the
// job it was recorded for (a restore's references name regions).
type startKey struct {
	topo       *fsm.Topology
	ev         fsm.Event // Restore cleared
	hasRestore bool
	checkpoint int64
	mode       fsm.RestoreMode
	nrefs      int
	refs       [maxStartRefs]fsm.RegionRef
}

// startKeyOf is ev's key, and false for a restore with more references than
// a key holds (checked in full every time).
func startKeyOf(topo *fsm.Topology, ev fsm.Event) (startKey, bool) {
	k := startKey{topo: topo, ev: ev}
	k.ev.Restore = nil
	if rs := ev.Restore; rs != nil {
		if len(rs.Refs) > maxStartRefs {
			return k, false
		}
		k.hasRestore, k.checkpoint, k.mode, k.nrefs = true, rs.Checkpoint, rs.Mode, len(rs.Refs)
		copy(k.refs[:], rs.Refs)
	}
	return k, true
}
