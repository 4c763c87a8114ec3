package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	ckptetcd "github.com/ckptcore/ckptcore/driver/etcd"
	"github.com/ckptcore/ckptcore/driver/linearizability"
)

// history builds etcd events with increasing revisions.
type history struct {
	rev    int64
	events []*clientv3.Event
}

func (h *history) put(key, value string, createRev int64) int64 {
	h.rev++
	if createRev == 0 {
		createRev = h.rev
	}
	h.events = append(h.events, &clientv3.Event{Type: mvccpb.PUT,
		Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(value), CreateRevision: createRev, ModRevision: h.rev}})
	return h.rev
}

func (h *history) del(key string) {
	h.rev++
	h.events = append(h.events, &clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key), ModRevision: h.rev}})
}

func write(writer string, rev int64) string {
	return fmt.Sprintf(`{"format":"x","writer":%q,"leader_rev":%d,"next_id":7}`, writer, rev)
}

func elect(node string) string { return fmt.Sprintf(`{"node":%q,"url":"http://127.0.0.1:1"}`, node) }

func replay(h *history) fenceReport {
	fc := newFencingChecker()
	for _, ev := range h.events {
		fc.event(ev)
	}
	return fc.rep
}

// TestFencingAcceptsLeaderWrites: writes by the holder of the first election
// key, across a takeover, are no violation; a standby's key does not make the
// leader's writes suspect.
func TestFencingAcceptsLeaderWrites(t *testing.T) {
	var h history
	a := h.put("/ckpt/j1/leader/a", elect("n1"), 0)
	b := h.put("/ckpt/j1/leader/b", elect("n2"), 0) // standby
	h.put("/ckpt/j1/next-id", write("n1", a), 0)
	h.put("/ckpt/j1/checkpoints/00000000000000000001", write("n1", a), 0)
	h.del("/ckpt/j1/leader/a") // n1's lease expired
	h.put("/ckpt/j1/next-id", write("n2", b), 0)
	h.del("/ckpt/j1/checkpoints/00000000000000000001") // a discard
	c := h.put("/ckpt/j2/leader/c", elect("n1"), 0)
	h.put("/ckpt/j2/overrides", write("n1", c), 0)
	rep := replay(&h)
	if len(rep.Violations) != 0 || rep.Writes != 4 || rep.Deletes != 1 || rep.Elections != 3 {
		t.Fatalf("report %+v", rep)
	}
}

// TestFencingCatchesDeposedWrites: each way a write can escape fencing is
// reported, with the holder at its revision.
func TestFencingCatchesDeposedWrites(t *testing.T) {
	cases := map[string]func(h *history){
		"deposed leader writes after its key is gone": func(h *history) {
			a := h.put("/ckpt/j1/leader/a", elect("n1"), 0)
			h.put("/ckpt/j1/leader/b", elect("n2"), 0)
			h.del("/ckpt/j1/leader/a")
			h.put("/ckpt/j1/overrides", write("n1", a), 0)
		},
		"standby writes while the leader holds": func(h *history) {
			h.put("/ckpt/j1/leader/a", elect("n1"), 0)
			b := h.put("/ckpt/j1/leader/b", elect("n2"), 0)
			h.put("/ckpt/j1/next-id", write("n2", b), 0)
		},
		"right revision, wrong writer": func(h *history) {
			a := h.put("/ckpt/j1/leader/a", elect("n1"), 0)
			h.put("/ckpt/j1/next-id", write("n3", a), 0)
		},
		"no election key at all": func(h *history) {
			h.put("/ckpt/j1/next-id", write("n1", 1), 0)
		},
		"a value without writer": func(h *history) {
			h.put("/ckpt/j1/leader/a", elect("n1"), 0)
			h.put("/ckpt/j1/next-id", `{"next_id":3}`, 0)
		},
		"the other job's leader": func(h *history) {
			h.put("/ckpt/j1/leader/a", elect("n1"), 0)
			b := h.put("/ckpt/j2/leader/b", elect("n2"), 0)
			h.put("/ckpt/j1/next-id", write("n2", b), 0)
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			var h history
			build(&h)
			if rep := replay(&h); len(rep.Violations) != 1 {
				t.Fatalf("violations %+v", rep.Violations)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }

func patchOp(client int, call, ret int64, interval, timeout *int64, outcome linearizability.Outcome) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret,
		Input:  linearizability.ConfigInput{Op: linearizability.ConfigPatch, IntervalMs: interval, TimeoutMs: timeout},
		Output: linearizability.ConfigOutput{Outcome: outcome}}
}

func getOp(client int, call, ret int64, interval, timeout int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret,
		Input:  linearizability.ConfigInput{Op: linearizability.ConfigGet},
		Output: linearizability.ConfigOutput{Outcome: linearizability.OutcomeOK, IntervalMs: interval, TimeoutMs: timeout, OverridesActive: true}}
}

var testBase = linearizability.ConfigBase{IntervalMs: baseIntervalMs, TimeoutMs: baseTimeoutMs, MaxTimeoutMs: maxTimeoutMs}

// TestContradicted: a read after an acknowledged patch showing an older
// value (a rolled-back takeover) counts the patch lost; a value of a
// concurrent, later or unknown patch does not.
func TestContradicted(t *testing.T) {
	ops := []porcupine.Operation{
		patchOp(0, 0, 10, ptr(100), ptr(500), linearizability.OutcomeOK),
		patchOp(1, 20, 30, ptr(200), ptr(600), linearizability.OutcomeOK),
		getOp(2, 40, 50, 100, 500), // shows the first patch after the second was acknowledged: lost
	}
	lost := contradicted(testBase, ops)
	if len(lost) != 1 || lost[0].Value != 200 || lost[0].ReadShow != 100 {
		t.Fatalf("lost %+v", lost)
	}
	fine := [][]porcupine.Operation{
		{ // a concurrent patch overwrote it
			patchOp(0, 0, 30, ptr(100), ptr(500), linearizability.OutcomeOK),
			patchOp(1, 20, 30, ptr(200), ptr(600), linearizability.OutcomeOK),
			getOp(2, 40, 50, 100, 500),
		},
		{ // an unknown patch called before may land after
			patchOp(0, 0, math.MaxInt64, ptr(100), ptr(500), linearizability.OutcomeUnknown),
			patchOp(1, 20, 30, ptr(200), ptr(600), linearizability.OutcomeOK),
			getOp(2, 40, 50, 100, 500),
		},
		{ // only the interval was patched: the timeout may be anything older
			patchOp(0, 0, 10, ptr(100), ptr(500), linearizability.OutcomeOK),
			patchOp(1, 20, 30, ptr(200), nil, linearizability.OutcomeOK),
			getOp(2, 40, 50, 200, 500),
		},
		{ // a read that began before the answer may show the old value
			patchOp(0, 0, 10, ptr(100), ptr(500), linearizability.OutcomeOK),
			patchOp(1, 20, 30, ptr(200), ptr(600), linearizability.OutcomeOK),
			getOp(2, 25, 50, 100, 500),
		},
	}
	for i, ops := range fine {
		if lost := contradicted(testBase, ops); len(lost) != 0 {
			t.Errorf("case %d: lost %+v", i, lost)
		}
	}
}

// TestContradictedAgreesWithPorcupine: on random single-client histories (no
// concurrency: every patch is acknowledged), a history has a lost patch
// exactly when porcupine finds it not linearizable, for a register where every
// read shows the latest value or, with a fault, an older one.
func TestContradictedAgreesWithPorcupine(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	seen := map[bool]int{}
	for iter := range 300 {
		var ops []porcupine.Operation
		var written [][2]int64
		cur := [2]int64{baseIntervalMs, baseTimeoutMs}
		now := int64(0)
		for i := range 12 {
			if rnd.IntN(2) == 0 || len(written) == 0 {
				v := [2]int64{int64(100 + i), int64(500 + i)}
				ops = append(ops, patchOp(0, now, now+1, ptr(v[0]), ptr(v[1]), linearizability.OutcomeOK))
				written, cur = append(written, v), v
			} else {
				show := cur
				if rnd.IntN(8) == 0 {
					show = written[rnd.IntN(len(written))] // a stale read, now and then
				}
				ops = append(ops, getOp(0, now, now+1, show[0], show[1]))
			}
			now += 2
		}
		lost := len(contradicted(testBase, ops)) > 0
		lin := porcupine.CheckOperations(linearizability.ConfigModel(testBase), ops)
		if lost == lin {
			t.Fatalf("history %d: lost %v but linearizable %v: %+v", iter, lost, lin, ops)
		}
		seen[lost]++
	}
	if seen[true] < 20 || seen[false] < 20 {
		t.Fatalf("histories with and without a lost patch: %v; want both", seen)
	}
}

// TestLostCheckpoints: what retention may discard, and what it may not.
func TestLostCheckpoints(t *testing.T) {
	final := linearizability.ProgressOutput{Latest: 9, Refs: []int64{9, 7, 9, 4}}
	store := map[int64]bool{4: true, 7: true, 9: true}
	if lost := lostCheckpoints([]int64{1, 2, 3, 5, 6, 8, 9}, final, store); len(lost) != 0 {
		t.Fatalf("discarded by retention counted lost: %v", lost)
	}
	if lost := lostCheckpoints([]int64{10}, final, store); fmt.Sprint(lost) != "[10]" {
		t.Fatalf("a checkpoint newer than the final latest: %v", lost)
	}
	delete(store, 7)
	if lost := lostCheckpoints(nil, final, store); fmt.Sprint(lost) != "[7]" {
		t.Fatalf("a referenced checkpoint missing: %v", lost)
	}
}

// TestParseLeaderLine reads the contract's lines, with or without serve's
// time prefix.
func TestParseLeaderLine(t *testing.T) {
	read := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	ev, ok := parseLeaderLine("n2", "14:00:01.000  ha: job j1: leader n2 (rev 42) at 2026-12-03T14:00:01.5Z", read)
	if !ok || ev.job != "j1" || ev.node != "n2" || ev.rev != 42 || ev.lost || !ev.at.Equal(read.Add(1500*time.Millisecond)) {
		t.Fatalf("leader line: %+v %v", ev, ok)
	}
	ev, ok = parseLeaderLine("n2", "ha: job j3: lost leadership (lease expired)", read)
	if !ok || ev.job != "j3" || ev.node != "n2" || !ev.lost || !ev.at.Equal(read) {
		t.Fatalf("lost line: %+v %v", ev, ok)
	}
	if _, ok := parseLeaderLine("n2", "checkpoint 3 completed", read); ok {
		t.Fatal("another line parsed as a leader line")
	}
}

// TestPercentile is nearest rank.
func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := percentile(ds, 0.5), percentile(ds, 0.99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
	if p := percentile(ds[:1], 0.99); p != time.Millisecond {
		t.Fatalf("one sample: %v", p)
	}
}

// TestKeyLayout: the soak's reading of keys is driver/etcd's layout.
func TestKeyLayout(t *testing.T) {
	job, rest, ok := splitKey(ckptetcd.ElectionPrefix("j7") + "abc")
	if !ok || job != "j7" || rest != "leader/abc" || ckptetcd.Prefix("j7") != keyRoot+"j7/" {
		t.Fatalf("split %q %q %v; prefix %q", job, rest, ok, ckptetcd.Prefix("j7"))
	}
}

// TestNotInEtcd: an acknowledged patch is durable when etcd's overrides key
// once held each value it set.
func TestNotInEtcd(t *testing.T) {
	var h history
	a := h.put("/ckpt/j1/leader/a", elect("n1"), 0)
	h.put("/ckpt/j1/overrides", fmt.Sprintf(`{"writer":"n1","leader_rev":%d,"overrides":{"interval_ms":100,"timeout_ms":500}}`, a), 0)
	h.put("/ckpt/j1/overrides", fmt.Sprintf(`{"writer":"n1","leader_rev":%d,"overrides":{"interval_ms":200,"timeout_ms":500}}`, a), 0)
	fc := newFencingChecker()
	for _, ev := range h.events {
		fc.event(ev)
	}
	ops := []porcupine.Operation{
		patchOp(0, 0, 1, ptr(100), ptr(500), linearizability.OutcomeOK),
		patchOp(0, 2, 3, ptr(200), nil, linearizability.OutcomeOK),
		patchOp(0, 4, 5, ptr(300), nil, linearizability.OutcomeUnknown),  // unknown: may be lost
		patchOp(0, 6, 7, ptr(400), ptr(500), linearizability.OutcomeOK),  // acknowledged, never in etcd
		patchOp(0, 8, 9, nil, ptr(600), linearizability.OutcomeRejected), // rejected
	}
	lost := notInEtcd(ops, fc.overrides["j1"])
	if len(lost) != 1 || lost[0].Value != 400 || lost[0].Field != fieldInterval {
		t.Fatalf("lost %+v", lost)
	}
}

// TestViolations: each count that must be 0 fails the soak on its own; an
// inconclusive porcupine check (a timeout) does not.
func TestViolations(t *testing.T) {
	clean := func() *result {
		return &result{JobResults: []jobResult{{Job: "j1", Linearizable: "config Unknown, progress Ok"}}}
	}
	if v := clean().violations(); len(v) != 0 {
		t.Fatalf("clean result: %v", v)
	}
	breaks := map[string]func(r *result){
		"illegal":          func(r *result) { r.JobResults[0].Illegal = true },
		"not in etcd":      func(r *result) { r.JobResults[0].LostOverrides = []lostPatch{{}} },
		"contradicted":     func(r *result) { r.JobResults[0].StaleReads = []lostPatch{{}} },
		"final mismatch":   func(r *result) { r.JobResults[0].OverridesMismatch = true },
		"checkpoint lost":  func(r *result) { r.JobResults[0].LostCheckpoints = []int64{3} },
		"two leaders":      func(r *result) { r.Fencing.Violations = []fenceViolation{{}} },
		"missing takeover": func(r *result) { r.MissingTakeovers = []takeover{{}} },
	}
	for name, brk := range breaks {
		r := clean()
		brk(r)
		if v := r.violations(); len(v) != 1 {
			t.Errorf("%s: violations %v", name, v)
		}
	}
}
