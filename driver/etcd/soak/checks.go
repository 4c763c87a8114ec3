package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	ckptetcd "github.com/ckptcore/ckptcore/driver/etcd"
	"github.com/ckptcore/ckptcore/driver/linearizability"
)

// This file holds the soak's checks other than porcupine's: what etcd's
// revision history shows about fencing, and what clients were told against
// what etcd holds at the end.

// keyRoot is the root of driver/etcd's key layout (its doc.go): every key of
// job J is under etcd.Prefix(J) = /ckpt/J/, its election keys under
// etcd.ElectionPrefix(J) (TestKeyLayout holds the two together).
const keyRoot = "/ckpt/"

func jobPrefix(job string) string { return ckptetcd.Prefix(job) }

// envelope is the part of every value driver/etcd writes that the soak reads:
// who wrote it under which election key, and for the overrides key the pair.
type envelope struct {
	Writer    *string `json:"writer"`
	LeaderRev *int64  `json:"leader_rev"`
	Overrides *struct {
		IntervalMs int64 `json:"interval_ms"`
		TimeoutMs  int64 `json:"timeout_ms"`
	} `json:"overrides"`
}

// electionValue is an election key's value: the campaigning node and its URL.
type electionValue struct {
	Node string `json:"node"`
	URL  string `json:"url"`
}

// fenceViolation is a write to a job's keys by a node that was not the
// holder of the job's first election key at that revision.
type fenceViolation struct {
	Revision  int64  `json:"revision"`
	Key       string `json:"key"`
	Writer    string `json:"writer"`
	LeaderRev int64  `json:"leader_rev"`
	Holder    string `json:"holder"` // node of the election key holder ("" none)
	HolderRev int64  `json:"holder_rev"`
	Why       string `json:"why"`
}

// fenceReport is the result of checkFencing.
type fenceReport struct {
	Writes     int              `json:"writes"`  // puts of job keys checked
	Deletes    int              `json:"deletes"` // deletes of job keys (discards): no writer to check
	Elections  int              `json:"elections"`
	Violations []fenceViolation `json:"violations"`
}

// electionKey is a live election key: its create revision and campaigner.
type electionKey struct {
	createRev int64
	node      string
}

// fencingChecker replays a revision-ordered stream of etcd events and checks
// that every write to a job's keys names, in "writer" and "leader_rev", the
// node holding the job's first election key (the lowest create revision, the
// one concurrency.Election makes leader) at the write's revision.
type fencingChecker struct {
	keys      map[string]map[string]electionKey // job -> election key -> holder
	overrides map[string]map[patchField]bool    // job -> every interval and timeout its overrides key ever held
	rep       fenceReport
}

func newFencingChecker() *fencingChecker {
	return &fencingChecker{keys: map[string]map[string]electionKey{}, overrides: map[string]map[patchField]bool{}}
}

// splitKey returns the job of a key under keyRoot and the rest of the key.
func splitKey(key string) (job, rest string, ok bool) {
	s, ok := strings.CutPrefix(key, keyRoot)
	if !ok {
		return "", "", false
	}
	return strings.Cut(s, "/")
}

// holder returns a job's first election key.
func (fc *fencingChecker) holder(job string) (electionKey, bool) {
	var best electionKey
	found := false
	for _, k := range fc.keys[job] {
		if !found || k.createRev < best.createRev {
			best, found = k, true
		}
	}
	return best, found
}

// event folds one event into the replay.
func (fc *fencingChecker) event(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	job, _, ok := splitKey(key)
	if !ok {
		return
	}
	if strings.HasPrefix(key, ckptetcd.ElectionPrefix(job)) {
		if fc.keys[job] == nil {
			fc.keys[job] = map[string]electionKey{}
		}
		if ev.Type == mvccpb.DELETE {
			delete(fc.keys[job], key)
			return
		}
		var v electionValue
		_ = json.Unmarshal(ev.Kv.Value, &v) // a value that is no JSON names no node: checked by rev only
		if _, seen := fc.keys[job][key]; !seen {
			fc.rep.Elections++
		}
		fc.keys[job][key] = electionKey{createRev: ev.Kv.CreateRevision, node: v.Node}
		return
	}
	if ev.Type == mvccpb.DELETE {
		fc.rep.Deletes++
		return
	}
	fc.rep.Writes++
	viol := fenceViolation{Revision: ev.Kv.ModRevision, Key: key}
	var env envelope
	if err := json.Unmarshal(ev.Kv.Value, &env); err != nil || env.Writer == nil || env.LeaderRev == nil {
		viol.Why = "value names no writer and leader_rev"
		fc.rep.Violations = append(fc.rep.Violations, viol)
		return
	}
	viol.Writer, viol.LeaderRev = *env.Writer, *env.LeaderRev
	if key == jobPrefix(job)+"overrides" && env.Overrides != nil {
		if fc.overrides[job] == nil {
			fc.overrides[job] = map[patchField]bool{}
		}
		fc.overrides[job][patchField{false, env.Overrides.IntervalMs}] = true
		fc.overrides[job][patchField{true, env.Overrides.TimeoutMs}] = true
	}
	h, ok := fc.holder(job)
	if ok {
		viol.Holder, viol.HolderRev = h.node, h.createRev
	}
	switch {
	case !ok:
		viol.Why = "no election key of the job existed at this revision"
	case h.createRev != *env.LeaderRev:
		viol.Why = "leader_rev is not the create revision of the job's first election key"
	case h.node != "" && h.node != *env.Writer:
		viol.Why = "writer is not the node of the job's first election key"
	default:
		return
	}
	fc.rep.Violations = append(fc.rep.Violations, viol)
}

// endMarkerKey is written once the soak is over: the history replay reads up
// to it. It is outside every job's keys (no job is called "~soak").
const endMarkerKey = keyRoot + "~soak/end"

// checkFencing reads etcd's whole revision history of the job keys (a watch
// from revision 1: etcd keeps it, nothing compacts during the soak) and
// checks every write against the election key holder at its revision.
func checkFencing(ctx context.Context, cli *clientv3.Client) (*fencingChecker, error) {
	put, err := cli.Put(ctx, endMarkerKey, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return nil, fmt.Errorf("end marker: %w", err)
	}
	end := put.Header.Revision
	fc := newFencingChecker()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range cli.Watch(wctx, keyRoot, clientv3.WithPrefix(), clientv3.WithRev(1)) {
		if err := wr.Err(); err != nil {
			return nil, fmt.Errorf("reading etcd's history: %w", err)
		}
		for _, ev := range wr.Events {
			if ev.Kv.ModRevision >= end {
				return fc, nil
			}
			fc.event(ev)
		}
	}
	return nil, fmt.Errorf("reading etcd's history: the watch ended before revision %d", end)
}

// notInEtcd returns the acknowledged patches (200) of ops that etcd never
// held: a field value the patch set that no write of the job's overrides key
// in etcd's whole history carries (values are unique per patch). Such a
// patch was acknowledged without being durable.
func notInEtcd(ops []porcupine.Operation, held map[patchField]bool) []lostPatch {
	var lost []lostPatch
	for _, op := range ops {
		in, out := op.Input.(linearizability.ConfigInput), op.Output.(linearizability.ConfigOutput)
		if in.Op != linearizability.ConfigPatch || out.Outcome != linearizability.OutcomeOK {
			continue
		}
		for _, f := range patchFields(in) {
			if !held[f] {
				lost = append(lost, lostPatch{Call: op.Call, Return: op.Return, Field: f.name(), Value: f.value})
				break
			}
		}
	}
	return lost
}

// finalStore is what etcd holds for a job at the end.
type finalStore struct {
	checkpoints map[int64]bool
	latest      linearizability.ProgressOutput // the latest completed checkpoint and its refs
	overrides   *[2]int64                      // interval, timeout; nil when none were ever confirmed
}

// readFinalStore reads a job's completed checkpoints and overrides from etcd.
func readFinalStore(ctx context.Context, cli *clientv3.Client, job string) (finalStore, error) {
	fs := finalStore{checkpoints: map[int64]bool{}}
	dir := jobPrefix(job) + "checkpoints/"
	r, err := cli.Get(ctx, dir, clientv3.WithPrefix())
	if err != nil {
		return fs, err
	}
	for _, kv := range r.Kvs {
		id, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), dir), 10, 64)
		if err != nil {
			return fs, fmt.Errorf("key %s: not a checkpoint id", kv.Key)
		}
		fs.checkpoints[id] = true
		if id < fs.latest.Latest {
			continue
		}
		m, err := metadataOf(kv.Value)
		if err != nil {
			return fs, fmt.Errorf("key %s: %w", kv.Key, err)
		}
		// Every region uses the checkpoint itself but those Refs names (R21).
		fs.latest = linearizability.ProgressOutput{Latest: id, Refs: make([]int64, regions)}
		for r := range fs.latest.Refs {
			fs.latest.Refs[r] = id
		}
		for _, ref := range m.Refs {
			if ref.Region < 0 || ref.Region >= regions {
				return fs, fmt.Errorf("key %s: region %d of %d", kv.Key, ref.Region, regions)
			}
			fs.latest.Refs[ref.Region] = ref.Checkpoint
		}
	}
	o, err := cli.Get(ctx, jobPrefix(job)+"overrides")
	if err != nil {
		return fs, err
	}
	if len(o.Kvs) == 1 {
		var env envelope
		if err := json.Unmarshal(o.Kvs[0].Value, &env); err != nil || env.Overrides == nil {
			return fs, fmt.Errorf("key %s: no overrides in %s", o.Kvs[0].Key, o.Kvs[0].Value)
		}
		fs.overrides = &[2]int64{env.Overrides.IntervalMs, env.Overrides.TimeoutMs}
	}
	return fs, nil
}

// lostCheckpoints returns the checkpoints some read reported as the latest
// completed that the final store lost. A reported checkpoint C is lost when
// etcd no longer holds it and it was not discarded by retention (R40), that
// is when C is newer than the final latest completed checkpoint L (progress
// went back) or C is L itself or one of L's refs (still referenced: never
// discarded). A ref of L missing from the store is lost too, reported or not.
func lostCheckpoints(reported []int64, final linearizability.ProgressOutput, store map[int64]bool) []int64 {
	lost := map[int64]bool{}
	refs := map[int64]bool{final.Latest: final.Latest > 0}
	for _, r := range final.Refs {
		refs[r] = true
	}
	for _, c := range reported {
		if !store[c] && (c > final.Latest || refs[c]) {
			lost[c] = true
		}
	}
	for r, needed := range refs {
		if needed && !store[r] {
			lost[r] = true
		}
	}
	var out []int64
	for c := range lost {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// lostPatch is an acknowledged PATCH that a later read contradicts.
type lostPatch struct {
	Call     int64  `json:"call_ns"`
	Return   int64  `json:"return_ns"`
	Field    string `json:"field"`
	Value    int64  `json:"value"`
	ReadAt   int64  `json:"read_call_ns"`
	ReadShow int64  `json:"read_shows"`
}

// contradicted returns the acknowledged patches (200) that some read begun
// after the patch's answer contradicts: for a field the patch set to v, the
// read shows a value w ≠ v that no patch could have written after this one —
// every patch writing w returned before this one was called, or none wrote it
// (the configured default). With values unique per patch (values) this is an
// acknowledged write lost or rolled back by a takeover, or a stale read (a
// deposed leader answering from memory). Porcupine's check covers this and
// more; this count and notInEtcd's are the ones a reader asks for.
func contradicted(base linearizability.ConfigBase, ops []porcupine.Operation) []lostPatch {
	type field = patchField
	// The latest return of a patch that may have written each value
	// (unknown outcomes end at +∞).
	latestWriter := map[field]int64{}
	var acked []porcupine.Operation
	var reads []porcupine.Operation
	for _, op := range ops {
		in, out := op.Input.(linearizability.ConfigInput), op.Output.(linearizability.ConfigOutput)
		switch {
		case in.Op == linearizability.ConfigGet:
			reads = append(reads, op)
			continue
		case out.Outcome == linearizability.OutcomeRejected:
			continue
		case out.Outcome == linearizability.OutcomeOK:
			acked = append(acked, op)
		}
		for _, f := range patchFields(in) {
			k := f
			latestWriter[k] = max(latestWriter[k], op.Return)
		}
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].Call < reads[j].Call })
	var lost []lostPatch
	for _, p := range acked {
		in := p.Input.(linearizability.ConfigInput)
		i := sort.Search(len(reads), func(i int) bool { return reads[i].Call > p.Return })
	reads:
		for _, g := range reads[i:] {
			out := g.Output.(linearizability.ConfigOutput)
			for _, f := range patchFields(in) {
				shown := out.IntervalMs
				if f.timeout {
					shown = out.TimeoutMs
				}
				if shown == f.value {
					continue
				}
				if ret, ok := latestWriter[field{f.timeout, shown}]; ok && ret > p.Call {
					continue // a patch concurrent with or after p wrote it
				}
				lost = append(lost, lostPatch{Call: p.Call, Return: p.Return, Field: f.name(), Value: f.value,
					ReadAt: g.Call, ReadShow: shown})
				break reads
			}
		}
	}
	return lost
}

type patchField struct {
	timeout bool
	value   int64
}

// name is the field's name in a PATCH body.
func (f patchField) name() string {
	if f.timeout {
		return fieldTimeout
	}
	return fieldInterval
}

func patchFields(in linearizability.ConfigInput) []patchField {
	var fs []patchField
	if in.IntervalMs != nil {
		fs = append(fs, patchField{false, *in.IntervalMs})
	}
	if in.TimeoutMs != nil {
		fs = append(fs, patchField{true, *in.TimeoutMs})
	}
	return fs
}
