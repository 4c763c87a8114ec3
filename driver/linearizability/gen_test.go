package linearizability

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// genOptions shape a synthetic configuration history.
type genOptions struct {
	clients int
	// values is the number of distinct intervals and timeouts drawn from; 0
	// means every patch writes values no other patch writes, as the robustness
	// test's clients do.
	values  int
	unknown float64 // share of patches whose outcome is unknown
	invalid float64 // share of patches with a value outside §2
	reads   float64 // share of operations that are gets
	think   int     // a client waits up to this long between operations; 0 means 50
	// epoch, when > 0, makes every client pause after each epoch operations
	// started, until all have returned; a get then pins the state and the
	// unknown patches are settled — as the robustness test does between its
	// epochs, and what lets CheckClientHistory cut a long history.
	epoch int
}

// genEvent is a client's next step in the simulation, ordered by time.
type genEvent struct {
	at     int64
	client int
	phase  int // 0: call, 1: linearization point, 2: return
}

type genQueue []genEvent

func (q genQueue) Len() int           { return len(q) }
func (q genQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q genQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *genQueue) Push(x any)        { *q = append(*q, x.(genEvent)) }
func (q *genQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// genConfigHistory simulates o.clients clients against an atomic register:
// each operation takes effect at a random point inside its interval, so the
// history is linearizable. Unknown patches take effect at their point or
// never, at random, and return at +∞; their client goes on under a new id.
func genConfigHistory(seed uint64, n int, base ConfigBase, o genOptions) []porcupine.Operation {
	rnd := rand.New(rand.NewPCG(seed, 0x9e4))
	state := configState{interval: base.IntervalMs, timeout: base.TimeoutMs}
	var serial int64
	value := func(lo, span int64) int64 {
		if o.values == 0 {
			serial++
			return lo + (serial*7919)%span // a permutation of [lo, lo+span): unique until it wraps
		}
		return lo + rnd.Int64N(int64(o.values))
	}
	type inflight struct{ op porcupine.Operation }
	ops := make([]porcupine.Operation, 0, n)
	cur := make([]inflight, o.clients)
	ids := make([]int, o.clients)
	nextID := o.clients
	q := &genQueue{}
	for c := range o.clients {
		ids[c] = c
		heap.Push(q, genEvent{at: int64(rnd.IntN(100)), client: c})
	}
	started := 0
	pausing, unsettled := false, 0 // unsettled: ops before it are settled
	var paused []int
	for q.Len() > 0 {
		e := heap.Pop(q).(genEvent)
		c := &cur[e.client]
		switch e.phase {
		case 0:
			if started == n {
				continue
			}
			if o.epoch > 0 && started > 0 && started%o.epoch == 0 && len(paused) < o.clients {
				pausing = true
			}
			if pausing {
				paused = append(paused, e.client)
				if len(paused) < o.clients {
					continue
				}
				// Every client has returned: settle the unknown outcomes, pin
				// the state with a get, resume.
				for i := unsettled; i < len(ops); i++ {
					if ops[i].Return == math.MaxInt64 {
						ops[i].Return = e.at
					}
				}
				ops = append(ops, porcupine.Operation{ClientId: ids[e.client], Input: ConfigInput{Op: ConfigGet},
					Call: e.at + 1, Return: e.at + 2, Output: ConfigOutput{Outcome: OutcomeOK,
						IntervalMs: state.interval, TimeoutMs: state.timeout, OverridesActive: state.active}})
				unsettled = len(ops)
				for _, p := range paused {
					heap.Push(q, genEvent{at: e.at + 3, client: p})
				}
				paused, pausing = paused[:0], false
				started++ // the pinning get counts as an operation
				continue
			}
			started++
			in := ConfigInput{Op: ConfigGet}
			if rnd.Float64() >= o.reads {
				in.Op = ConfigPatch
				interval, timeout := value(10, 1<<20), value(10, 1<<30)
				switch k := rnd.IntN(10); {
				case k < 6:
					in.IntervalMs, in.TimeoutMs = &interval, &timeout
				case k < 8:
					in.IntervalMs = &interval
				default:
					in.TimeoutMs = &timeout
				}
				if rnd.Float64() < o.invalid {
					bad := int64(1 + rnd.IntN(9))
					in.TimeoutMs = &bad
				}
			}
			*c = inflight{op: porcupine.Operation{ClientId: ids[e.client], Input: in, Call: e.at}}
			heap.Push(q, genEvent{at: e.at + 1 + int64(rnd.IntN(200)), client: e.client, phase: 1})
		case 1:
			in := c.op.Input.(ConfigInput)
			if in.Op == ConfigGet {
				c.op.Output = ConfigOutput{Outcome: OutcomeOK, IntervalMs: state.interval, TimeoutMs: state.timeout, OverridesActive: state.active}
			} else {
				next, valid := base.apply(state, in)
				switch {
				case !valid:
					c.op.Output = ConfigOutput{Outcome: OutcomeRejected}
				case rnd.Float64() < o.unknown:
					c.op.Output = ConfigOutput{Outcome: OutcomeUnknown}
					if rnd.IntN(2) == 0 {
						state = next
					}
				default:
					c.op.Output = ConfigOutput{Outcome: OutcomeOK}
					state = next
				}
			}
			heap.Push(q, genEvent{at: e.at + 1 + int64(rnd.IntN(200)), client: e.client, phase: 2})
		case 2:
			c.op.Return = e.at
			if c.op.Output.(ConfigOutput).Outcome == OutcomeUnknown {
				c.op.Return = math.MaxInt64
				ids[e.client] = nextID
				nextID++
			}
			ops = append(ops, c.op)
			think := o.think
			if think == 0 {
				think = 50
			}
			heap.Push(q, genEvent{at: e.at + int64(rnd.IntN(think)), client: e.client})
		}
	}
	return ops
}

// corrupt changes one get's reading to a pair some patch wrote but with the
// other field from elsewhere — usually, not always, illegal.
func corrupt(rnd *rand.Rand, ops []porcupine.Operation) []porcupine.Operation {
	out := append([]porcupine.Operation(nil), ops...)
	var gets []int
	for i, op := range out {
		if op.Input.(ConfigInput).Op == ConfigGet {
			gets = append(gets, i)
		}
	}
	if len(gets) < 2 {
		return out
	}
	a, b := gets[rnd.IntN(len(gets))], gets[rnd.IntN(len(gets))]
	oa, ob := out[a].Output.(ConfigOutput), out[b].Output.(ConfigOutput)
	oa.TimeoutMs = ob.TimeoutMs
	out[a].Output = oa
	return out
}

// BoundUnknownPatches must never change a verdict: checked on many small
// random histories, legal and corrupted, with values that collide (so every
// rule and every fallback runs) and values that do not.
func TestBoundUnknownPatchesKeepsTheVerdict(t *testing.T) {
	base := ConfigBase{IntervalMs: 10, TimeoutMs: 10}
	verdicts := map[porcupine.CheckResult]int{}
	for seed := range uint64(400) {
		o := genOptions{clients: 3, values: []int{0, 2, 3}[seed%3], unknown: 0.4, invalid: 0.1, reads: 0.5}
		ops := genConfigHistory(seed, 14, base, o)
		if seed%2 == 1 {
			ops = corrupt(rand.New(rand.NewPCG(seed, 1)), ops)
		}
		model := ConfigModel(base)
		want := porcupine.CheckOperations(model, ops)
		got := porcupine.CheckOperations(model, BoundUnknownPatches(base, ops))
		if got != want {
			t.Fatalf("seed %d: linearizable %v before bounding, %v after:\n%v", seed, want, got, describeOps(model, ops))
		}
		verdicts[map[bool]porcupine.CheckResult{true: porcupine.Ok, false: porcupine.Illegal}[want]]++
	}
	if verdicts[porcupine.Ok] < 50 || verdicts[porcupine.Illegal] < 50 {
		t.Fatalf("the generator should give both verdicts often: %v", verdicts)
	}
}

func describeOps(m porcupine.Model, ops []porcupine.Operation) string {
	s := ""
	for _, op := range ops {
		ret := fmt.Sprint(op.Return)
		if op.Return == math.MaxInt64 {
			ret = "∞"
		}
		s += fmt.Sprintf("  client %d [%d, %s] %s\n", op.ClientId, op.Call, ret, m.DescribeOperation(op.Input, op.Output))
	}
	return s
}

func TestTheGeneratorIsLinearizable(t *testing.T) {
	base := ConfigBase{IntervalMs: 1000, TimeoutMs: 600000}
	ops := genConfigHistory(7, 2000, base, genOptions{clients: 8, unknown: 0.05, invalid: 0.05, reads: 0.6})
	res := CheckClientHistory(ClientHistory{Config: base, ConfigOps: ops}, 10*time.Second)
	if res.Config != porcupine.Ok {
		t.Fatal(res)
	}
}

// BenchmarkPorcupineConfig measures checking synthetic histories of the
// configuration register: 8 clients, 60% gets, 5% patches with an unknown
// outcome and 5% invalid ones, values unique as in the robustness test, and —
// as the robustness test records runs longer than one epoch — a pause every
// 2000 operations in which the unknown outcomes settle and a get pins the
// state, so that CheckClientHistory checks independent segments. Run:
//
//	go test -run '^$' -bench BenchmarkPorcupineConfig -benchtime 3x -benchmem ./history/
//
// BenchmarkPorcupineConfig/epoch=none shows why: one unbroken history costs
// porcupine time and memory that grow with the square of its length.
func BenchmarkPorcupineConfig(b *testing.B) {
	base := ConfigBase{IntervalMs: 1000, TimeoutMs: 600000}
	run := func(b *testing.B, n, epoch int) {
		ops := genConfigHistory(1, n, base, genOptions{clients: 8, unknown: 0.05, invalid: 0.05, reads: 0.6, epoch: epoch})
		h := ClientHistory{Config: base, ConfigOps: ops}
		b.ResetTimer()
		for b.Loop() {
			if res := CheckClientHistory(h, 0); res.Config != porcupine.Ok {
				b.Fatal(res)
			}
		}
	}
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) { run(b, n, 2000) })
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("epoch=none/ops=%d", n), func(b *testing.B) { run(b, n, 0) })
	}
}

// Cutting a history into segments must never change a verdict: random
// histories of 2 and 3 clients that often all pause (so cuts exist), half of
// them corrupted, checked whole and through CheckClientHistory.
func TestSegmentsKeepTheVerdict(t *testing.T) {
	base := ConfigBase{IntervalMs: 10, TimeoutMs: 10}
	verdicts := map[bool]int{}
	cuts := 0
	for seed := range uint64(400) {
		o := genOptions{clients: 2 + int(seed%2), values: []int{0, 3}[seed%2], unknown: 0.2, invalid: 0.1,
			reads: 0.5, think: 400, epoch: []int{0, 6}[seed/2%2]}
		ops := genConfigHistory(seed, 30, base, o)
		if seed%4 >= 2 {
			ops = corrupt(rand.New(rand.NewPCG(seed, 1)), ops)
		}
		want := porcupine.CheckOperations(ConfigModel(base), ops)
		res := CheckClientHistory(ClientHistory{Config: base, ConfigOps: ops}, 0)
		if got := res.Config == porcupine.Ok; got != want {
			t.Fatalf("seed %d: linearizable %v whole, %v in %d segments:\n%v", seed, want, got, res.ConfigSegments,
				describeOps(ConfigModel(base), ops))
		}
		verdicts[want]++
		cuts += res.ConfigSegments - 1
	}
	if verdicts[true] < 50 || verdicts[false] < 50 || cuts < 400 {
		t.Fatalf("the generator should give both verdicts and many cuts: %v, %d cuts", verdicts, cuts)
	}
}

// genProgressHistory simulates clients reading a job whose checkpoints
// complete over time, regions failing at random (their refs stay behind).
func genProgressHistory(seed uint64, n, clients, regions int) []porcupine.Operation {
	rnd := rand.New(rand.NewPCG(seed, 0x960))
	latest, refs := int64(0), make([]int64, regions)
	var ops []porcupine.Operation
	point := int64(0)
	for len(ops) < n {
		// Reads take effect in the order generated, at increasing points; a
		// gap between two points sometimes leaves no read in flight (a cut).
		point += 1 + int64(rnd.IntN(60))
		if rnd.IntN(3) == 0 { // a checkpoint completes before this read's point
			latest++
			for r := range refs {
				if refs[r] == 0 || rnd.IntN(3) > 0 {
					refs[r] = latest
				}
			}
		}
		out := ProgressOutput{Latest: latest}
		if latest > 0 {
			out.Refs = append([]int64(nil), refs...)
		}
		ops = append(ops, porcupine.Operation{ClientId: len(ops) % clients, Input: ProgressInput{Job: "j"},
			Call: point - int64(rnd.IntN(100)), Return: point + int64(rnd.IntN(100)), Output: out})
	}
	return ops
}

func TestProgressSegmentsKeepTheVerdict(t *testing.T) {
	verdicts := map[bool]int{}
	for seed := range uint64(300) {
		ops := genProgressHistory(seed, 25, 3, 2)
		if seed%2 == 1 { // one read shows another's checkpoint with a region's ref moved
			rnd := rand.New(rand.NewPCG(seed, 2))
			i := rnd.IntN(len(ops))
			out := ops[i].Output.(ProgressOutput)
			if out.Latest > 1 {
				out.Refs = append([]int64(nil), out.Refs...)
				out.Refs[rnd.IntN(len(out.Refs))] = 1 + rnd.Int64N(out.Latest)
				ops[i].Output = out
			}
		}
		want := porcupine.CheckOperations(ProgressModel(), ops)
		res := CheckClientHistory(ClientHistory{ProgressOps: ops}, 0)
		if got := res.Progress == porcupine.Ok; got != want {
			t.Fatalf("seed %d: linearizable %v whole, %v in %d segments", seed, want, got, res.ProgressSegments)
		}
		verdicts[want]++
	}
	if verdicts[true] < 50 || verdicts[false] < 30 {
		t.Fatalf("both verdicts should be common: %v", verdicts)
	}
}
