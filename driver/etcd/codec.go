package etcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// valueFormat names the format of every value; a value of another format is
// refused, not misread.
const valueFormat = "ckpt-etcd/v1"

// valueEnvelope is every value the Store writes: the writer's identity
// (OWNERS.md's contract with the soak: "writer", "leader_rev") and exactly one
// payload. The metadata is driver.Metadata's own JSON, so that a field added to
// it travels without a change here (TestMetadataCodecCarriesEveryField).
type valueEnvelope struct {
	Format    string           `json:"format"`
	Writer    string           `json:"writer"`
	LeaderRev int64            `json:"leader_rev"`
	Metadata  *driver.Metadata `json:"metadata,omitempty"`
	NextID    *int64           `json:"next_id,omitempty"`
	Overrides *overridesValue  `json:"overrides,omitempty"`
	Restored  *restoredValue   `json:"restored,omitempty"`
}

type overridesValue struct {
	IntervalMs int64 `json:"interval_ms"`
	TimeoutMs  int64 `json:"timeout_ms"`
}

type restoredValue struct {
	Checkpoint int64  `json:"checkpoint"`
	Mode       string `json:"mode"`
}

func encodeValue(v valueEnvelope) ([]byte, error) { return json.Marshal(v) }

// decodeValue decodes strictly: one object, no unknown field (in the
// metadata too), nothing after it, the right format, exactly one payload.
func decodeValue(data []byte) (valueEnvelope, error) {
	var v valueEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("corrupt: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, errors.New("corrupt: data after the JSON object")
	}
	if v.Format != valueFormat {
		return v, fmt.Errorf("format %q: want %q", v.Format, valueFormat)
	}
	if v.Writer == "" || v.LeaderRev <= 0 {
		return v, errors.New("writer and leader_rev: want the writing node and its election key's create revision")
	}
	n := 0
	for _, set := range []bool{v.Metadata != nil, v.NextID != nil, v.Overrides != nil, v.Restored != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return v, fmt.Errorf("%d payloads: want exactly one of metadata, next_id, overrides, restored", n)
	}
	return v, nil
}

// KeyError is a key of a job's prefix that does not load: the key and what is wrong.
type KeyError struct {
	Key    string
	Reason error
}

// Error returns "etcd: KEY: REASON".
func (e *KeyError) Error() string { return "etcd: " + e.Key + ": " + e.Reason.Error() }

// Unwrap returns the reason.
func (e *KeyError) Unwrap() error { return e.Reason }

var idSegment = regexp.MustCompile(`^[0-9]{20}$`)

// decodeDurable turns the keys of a job's prefix (one revision) into the
// durable state, as FileStore.Load does for its files: NextID covers every
// stored id (R14), Known holds the checkpoints in id order, savepoints count
// only for NextID.
func decodeDurable(job string, kvs []*mvccpb.KeyValue) (fsm.Durable, error) {
	d := fsm.Durable{NextID: 1}
	var known []driver.Metadata
	for _, kv := range kvs {
		key := string(kv.Key)
		rel := strings.TrimPrefix(key, Prefix(job))
		if strings.HasPrefix(rel, "leader/") {
			continue // election keys: concurrency.Election's
		}
		fail := func(err error) (fsm.Durable, error) { return fsm.Durable{NextID: 1}, &KeyError{Key: key, Reason: err} }
		v, err := decodeValue(kv.Value)
		if err != nil {
			return fail(err)
		}
		dir, idText, _ := strings.Cut(rel, "/")
		switch {
		case rel == "next-id" && v.NextID != nil:
			if *v.NextID < 1 || *v.NextID > fsm.MaxSafeInt+1 {
				return fail(errors.New("next_id: want an integer in [1, 2^53]"))
			}
			d.NextID = max(d.NextID, *v.NextID)
		case rel == "overrides" && v.Overrides != nil:
			o := *v.Overrides
			if (o.IntervalMs != 0 && o.IntervalMs < fsm.MinIntervalMs) || o.IntervalMs > fsm.MaxSafeInt {
				return fail(errors.New("interval_ms: want 0 or an integer in [10, 2^53)"))
			}
			if o.TimeoutMs < fsm.MinTimeoutMs || o.TimeoutMs > fsm.MaxSafeInt {
				return fail(errors.New("timeout_ms: want an integer in [10, 2^53)"))
			}
			d.Overrides = &fsm.EffectiveConfig{IntervalMs: o.IntervalMs, TimeoutMs: o.TimeoutMs, OverridesActive: true}
		case rel == "restored" && v.Restored != nil:
			r := *v.Restored
			if r.Checkpoint < 1 || r.Checkpoint > fsm.MaxSafeInt {
				return fail(errors.New("checkpoint: want an id in [1, 2^53)"))
			}
			if r.Mode != fsm.Claim.String() && r.Mode != fsm.NoClaim.String() {
				return fail(errors.New(`mode: want "claim" or "no_claim"`))
			}
			d.RestoredID, d.NoClaim = r.Checkpoint, r.Mode == fsm.NoClaim.String()
			d.NextID = max(d.NextID, d.RestoredID+1)
		case (dir == "checkpoints" || dir == "savepoints") && idSegment.MatchString(idText) && v.Metadata != nil:
			id, _ := strconv.ParseInt(idText, 10, 64)
			m := *v.Metadata
			if err := checkMetadata(m, id, dir == "savepoints"); err != nil {
				return fail(err)
			}
			d.NextID = max(d.NextID, m.ID+1)
			if dir == "checkpoints" {
				known = append(known, m)
			}
		default:
			return fail(errors.New("unexpected key or payload: want next-id, overrides, restored, checkpoints/<20-digit id> or savepoints/<20-digit id>, each with its payload"))
		}
	}
	sort.Slice(known, func(i, j int) bool { return known[i].ID < known[j].ID })
	for _, m := range known {
		d.Known = append(d.Known, fsm.StoredCheckpoint{ID: m.ID, Refs: m.Refs, Mode: m.Mode,
			Consecutive: m.Consecutive, Owned: m.Owned, Restored: m.Restored})
	}
	return d, nil
}

// checkMetadata holds a stored checkpoint to the rules the core relies on
// (R21, I-RegionConsistency): its id matches its key, its kind its directory,
// refs name regions once and point to older ids, and the mode is regional
// exactly when some region uses older state.
func checkMetadata(m driver.Metadata, id int64, savepoint bool) error {
	switch {
	case m.ID != id:
		return fmt.Errorf("metadata id %d does not match the key", m.ID)
	case m.ID < 1 || m.ID > fsm.MaxSafeInt:
		return fmt.Errorf("metadata id %d: want an id in [1, 2^53)", m.ID)
	case m.Kind.IsSavepoint() != savepoint || m.Kind > fsm.KindStopWithSavepoint:
		return fmt.Errorf("kind %d does not belong under this key", m.Kind)
	case m.Mode != fsm.ModeGlobal && m.Mode != fsm.ModeRegional:
		return fmt.Errorf("mode %d: want global (0) or regional (1)", m.Mode)
	case m.Consecutive < 0:
		return fmt.Errorf("consecutive %d: want >= 0", m.Consecutive)
	case (len(m.Refs) > 0) != (m.Mode == fsm.ModeRegional):
		return fmt.Errorf("mode %s with %d older refs: a checkpoint is regional exactly when it has some", m.Mode, len(m.Refs))
	}
	for i, r := range m.Refs {
		if r.Region < 0 || (i > 0 && r.Region <= m.Refs[i-1].Region) {
			return fmt.Errorf("refs: region %d: want regions ascending, each once", r.Region)
		}
		if r.Checkpoint < 1 || r.Checkpoint >= id {
			return fmt.Errorf("refs: region %d -> %d: a reference must be an older checkpoint id", r.Region, r.Checkpoint)
		}
	}
	return nil
}
