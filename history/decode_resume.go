package history

import (
	"fmt"
	"sort"

	"github.com/ckptcore/ckptcore/fsm"
)

// FormatResume is the header format of a history whose first event may be a
// resume record (HISTORY.md, "Resume"): ckpt-history/v1 plus that one event
// type. A v1 reader refuses such a file by its header, naming the version; this
// package reads both.
const FormatResume = "ckpt-history/v1.1"

// resumeType is the resume record's type. It is not an fsm event: the record
// builds the core (fsm.Resume) instead of stepping one.
const resumeType = "resume"

// decodeResume reads a resume record: {"at":T,"type":"resume","durable":{…}}
// with optional "effects". The record's Event has type 0 (no fsm event: a
// consumer that steps it gets the core's error) and Resume holds the state.
// The Reader checks that the header allows it and that it comes first.
func decodeResume(t *fsm.Topology, o *object) (Record, error) {
	var rec Record
	if err := o.allow("a resume record has", "at", "type", "durable", "effects"); err != nil {
		return rec, err
	}
	var err error
	if rec.Event.At, _, err = o.integer("at", true, 0, maxID); err != nil {
		return rec, err
	}
	do, _, err := o.sub("durable", true)
	if err != nil {
		return rec, err
	}
	d, err := decodeDurable(t, do)
	if err != nil {
		return rec, err
	}
	rec.Resume = &d
	return rec, decodeRecorded(o, &rec)
}

func decodeDurable(t *fsm.Topology, o *object) (fsm.Durable, error) {
	var d fsm.Durable
	if err := o.allow("durable has", "next_id", "checkpoints", "overrides", "restored"); err != nil {
		return d, err
	}
	var err error
	if d.NextID, _, err = o.id("next_id", true); err != nil {
		return d, err
	}
	cps, _, err := o.array("checkpoints", false)
	if err != nil {
		return d, err
	}
	for i, raw := range cps {
		co, err := parseObject(o.field(fmt.Sprintf("checkpoints[%d]", i)), raw)
		if err != nil {
			return d, err
		}
		k, err := decodeStored(t, co)
		if err != nil {
			return d, err
		}
		if i > 0 && k.ID <= d.Known[i-1].ID {
			return d, errorf(co.field("id"), "%d after %d: checkpoints are listed by increasing id", k.ID, d.Known[i-1].ID)
		}
		if k.ID >= d.NextID {
			return d, errorf(co.field("id"), "%d is not below next_id %d (I-MonotonicIds)", k.ID, d.NextID)
		}
		d.Known = append(d.Known, k)
	}
	if ov, ok, err := o.sub("overrides", false); err != nil {
		return d, err
	} else if ok {
		if err := ov.allow("overrides has", "interval_ms", "timeout_ms"); err != nil {
			return d, err
		}
		e := fsm.EffectiveConfig{OverridesActive: true}
		if e.IntervalMs, _, err = ov.integer("interval_ms", true, 0, maxID); err != nil {
			return d, err
		}
		if e.TimeoutMs, _, err = ov.integer("timeout_ms", true, 1, maxID); err != nil {
			return d, err
		}
		d.Overrides = &e
	}
	if ro, ok, err := o.sub("restored", false); err != nil {
		return d, err
	} else if ok {
		if err := ro.allow("restored has", "checkpoint", "mode"); err != nil {
			return d, err
		}
		if d.RestoredID, _, err = ro.id("checkpoint", true); err != nil {
			return d, err
		}
		mode, _, err := ro.str("mode", true)
		if err != nil {
			return d, err
		}
		switch mode {
		case "claim":
		case "no_claim":
			d.NoClaim = true
		default:
			return d, errorf(ro.field("mode"), "unknown mode %q (want claim or no_claim)", mode)
		}
	}
	return d, nil
}

func decodeStored(t *fsm.Topology, o *object) (fsm.StoredCheckpoint, error) {
	var k fsm.StoredCheckpoint
	if err := o.allow("a stored checkpoint has", "id", "mode", "consecutive", "refs", "retained", "owned", "restored"); err != nil {
		return k, err
	}
	var err error
	if k.ID, _, err = o.id("id", true); err != nil {
		return k, err
	}
	mode, _, err := o.str("mode", true)
	if err != nil {
		return k, err
	}
	switch mode {
	case "global":
		k.Mode = fsm.ModeGlobal
	case "regional":
		k.Mode = fsm.ModeRegional
	default:
		return k, errorf(o.field("mode"), "unknown mode %q (want global or regional)", mode)
	}
	c, _, err := o.integer("consecutive", false, 0, 1<<31-1)
	if err != nil {
		return k, err
	}
	k.Consecutive = int(c)
	for _, f := range []struct {
		key string
		dst *bool
	}{{"retained", &k.Retained}, {"owned", &k.Owned}, {"restored", &k.Restored}} {
		v, ok, err := o.boolean(f.key)
		if err != nil {
			return k, err
		}
		if ok {
			*f.dst = v
		}
	}
	refs, ok, err := o.sub("refs", false)
	if err != nil || !ok {
		return k, err
	}
	for _, m := range refs.members {
		region, err := fsm.ParseRegion(m.key, t.NumRegions())
		if err != nil {
			return k, errorf(refs.field(m.key), "%v", err)
		}
		id, err := parseInt(refs.field(m.key), m.val, 1, maxID)
		if err != nil {
			return k, err
		}
		if id >= k.ID {
			return k, errorf(refs.field(m.key), "%d is not older than checkpoint %d (I-RegionConsistency)", id, k.ID)
		}
		k.Refs = append(k.Refs, fsm.RegionRef{Region: region, Checkpoint: id})
	}
	sort.Slice(k.Refs, func(a, b int) bool { return k.Refs[a].Region < k.Refs[b].Region })
	return k, nil
}

// EncodeResume renders a resume record as one line without the newline: the
// durable state a core resumes from at time at (fsm.Resume), and, when
// effects != nil, the effects the runtime saw for it.
func EncodeResume(t *fsm.Topology, at int64, d fsm.Durable, effects []fsm.Effect) []byte {
	o := newObject()
	o.int("at", at)
	o.str("type", resumeType)
	do := newObject()
	do.int("next_id", d.NextID)
	cps := []byte{'['}
	for i, k := range d.Known {
		if i > 0 {
			cps = append(cps, ',')
		}
		ko := newObject()
		ko.int("id", k.ID)
		ko.str("mode", k.Mode.String())
		ko.int("consecutive", int64(k.Consecutive))
		if len(k.Refs) > 0 {
			ko.raw("refs", appendRefs(nil, k.Refs))
		}
		ko.bool("retained", k.Retained)
		ko.bool("owned", k.Owned)
		ko.bool("restored", k.Restored)
		cps = append(cps, ko.bytes()...)
	}
	do.raw("checkpoints", append(cps, ']'))
	if e := d.Overrides; e != nil {
		eo := newObject()
		eo.int("interval_ms", e.IntervalMs)
		eo.int("timeout_ms", e.TimeoutMs)
		do.raw("overrides", eo.bytes())
	}
	if d.RestoredID > 0 {
		ro := newObject()
		ro.int("checkpoint", d.RestoredID)
		mode := "claim"
		if d.NoClaim {
			mode = "no_claim"
		}
		ro.str("mode", mode)
		do.raw("restored", ro.bytes())
	}
	o.raw("durable", do.bytes())
	if effects != nil {
		o.raw("effects", appendEffects(t, effects))
	}
	return o.bytes()
}
