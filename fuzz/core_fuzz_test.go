package fuzz

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// FuzzCore is a byte-driven event generator: the fuzzer's bytes choose a job,
// a configuration, a start and then one event per few bytes, each fed straight
// into Step, with the invariant checker (SEMANTICS §10) after every step and
// R10's "nothing overdue" promise. Invalid events are mixed in; the core must
// refuse them and change nothing. Every byte string is a valid input, and a
// small change to the bytes is a small change to the run, which is what
// coverage guidance needs. (TestCore keeps the rapid state-machine property,
// whose shrinker reads better counterexamples but runs ~100× slower under the
// fuzzer.) A failure prints the run as a history that `replay` reproduces.
func FuzzCore(f *testing.F) {
	for _, seed := range coreSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runCore(t, data)
	})
}

// roundTrip checks that every event the core accepted is one a history can
// hold: written as the flight recorder writes it, it decodes back to itself
// (issue 13: a rejected PATCH below −(2^53−1) was recorded and then refused by
// the decoder, so the file did not replay).
//
// Only the events with free numbers besides ids and times are checked (start's
// delay and restore, a patch's values): the others' fields the core bounds like
// the decoder, and checking every line would halve the rate of runs.
//
// The strict decoder is most of a run's cost, and the fuzzer runs mutants of
// one input over and over, so that most lines recur: a line the decoder
// already read (for a job of as many regions: region names are checked
// against the job) is not decoded again — its decoding, a pure function of the
// two, is remembered and compared with the event.
func (r *coreRun) roundTrip() {
	for _, ev := range r.evs {
		if ev.Type != fsm.EvStart && ev.Type != fsm.EvConfigPatch {
			continue
		}
		// A patch names no subtask or region: its line, and so its round
		// trip, is a function of the event alone.
		if ev.Type == fsm.EvConfigPatch && roundTripped[ev] {
			continue
		}
		line, err := history.EncodeEvent(r.topo, ev, nil)
		if err != nil {
			r.fail("history", "%s does not encode: %v", fsm.DescribeEvent(r.topo, ev), err)
		}
		key := decodedKey{line: string(line), regions: r.topo.NumRegions()}
		got, ok := decodedLines[key]
		if !ok {
			rec, err := history.DecodeEventLine(r.topo, line)
			if err != nil {
				r.fail("history", "%s is recorded as %s, which does not decode: %v", fsm.DescribeEvent(r.topo, ev), line, err)
			}
			if len(decodedLines) >= maxDecodedLines {
				clear(decodedLines)
			}
			got = rec.Event
			decodedLines[key] = got
		}
		if !reflect.DeepEqual(got, ev) {
			r.fail("history", "%s decodes to %+v, recorded %+v", line, got, ev)
		}
		if ev.Type == fsm.EvConfigPatch {
			if len(roundTripped) >= maxDecodedLines {
				clear(roundTripped)
			}
			roundTripped[ev] = true
		}
	}
}

// roundTripped holds the patch events whose round trip held (see roundTrip).
var roundTripped = map[fsm.Event]bool{}

// decodedKey is a line the strict decoder read for a job of so many regions.
type decodedKey struct {
	line    string
	regions int
}

// decodedLines remembers what lines decoded to (see roundTrip), up to
// maxDecodedLines of them; each fuzzing worker is one process running one
// input at a time.
var decodedLines = map[decodedKey]fsm.Event{}

const maxDecodedLines = 1 << 14

// runCore is one FuzzCore execution. The event slice is reused from run to
// run (a fuzzing worker runs one input at a time): growing it was a tenth of
// a run's cost.
func runCore(t testing.TB, data []byte) {
	r := newCoreRun(t, data)
	for i := 0; i < maxFuzzEvents && !r.src.done(); i++ {
		r.next()
	}
	r.roundTrip()
	eventsBuf = r.evs[:0]
}

var eventsBuf = make([]fsm.Event, 0, maxFuzzEvents+2)

// maxFuzzEvents bounds one run: longer histories add little coverage and
// lower the rate of runs.
const maxFuzzEvents = 128

// bytesSource reads choices from the fuzzer's bytes; past the end every
// choice is 0, so any input is complete.
type bytesSource struct {
	data []byte
	i    int
}

func (b *bytesSource) done() bool { return b.i >= len(b.data) }

func (b *bytesSource) byte() byte {
	if b.i >= len(b.data) {
		return 0
	}
	b.i++
	return b.data[b.i-1]
}

// intn returns a choice in [0, n) from one byte (two when n > 256).
func (b *bytesSource) intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := int(b.byte())
	if n > 256 {
		v = v<<8 | int(b.byte())
	}
	return v % n
}

func (b *bytesSource) bool() bool { return b.byte()&1 == 1 }

// pick returns one of xs.
func pick[T any](b *bytesSource, xs ...T) T { return xs[b.intn(len(xs))] }

// coreRun is one fuzzed history: the core, the checker and the events so far.
type coreRun struct {
	t        testing.TB
	src      *bytesSource
	spec     fsm.JobSpec
	cfg      fsm.Config
	topo     *fsm.Topology
	s        *fsm.State
	chk      *invariants.Checker
	evs      []fsm.Event
	requests int64
	key      []byte // the state's key before an invalid event (reused)
	after    []byte // and after it
}

func newCoreRun(t testing.TB, data []byte) *coreRun {
	r := &coreRun{t: t, src: &bytesSource{data: data}, evs: eventsBuf[:0]}
	r.spec = r.job()
	topo, err := topologyOf(r.spec)
	if err != nil {
		t.Fatalf("generated job refused: %v", err)
	}
	r.topo = topo
	r.cfg = r.config()
	if r.s, err = fsm.New(topo, r.cfg); err != nil {
		t.Fatalf("generated configuration refused: %v", err)
	}
	r.chk = invariants.New(topo, r.cfg)
	r.step(r.start())
	return r
}

// topologies caches the jobs FuzzCore builds (a few hundred shapes; a
// Topology is immutable and states only share it), keyed by the spec's
// printed form.
var topologies = map[string]*fsm.Topology{}

func topologyOf(spec fsm.JobSpec) (*fsm.Topology, error) {
	key := fmt.Sprint(spec)
	if t, ok := topologies[key]; ok {
		return t, nil
	}
	t, err := fsm.NewTopology(spec)
	if err == nil {
		topologies[key] = t
	}
	return t, err
}

// job: 1–3 vertices of parallelism 1–3, any coordinator, edges from earlier to
// later vertices of either pattern and any exchange (pipelined most often:
// regional mode needs pipelined regions).
func (r *coreRun) job() fsm.JobSpec {
	names := []string{"a", "b", "c"}
	var spec fsm.JobSpec
	n := 1 + r.src.intn(3)
	for i := 0; i < n; i++ {
		spec.Vertices = append(spec.Vertices, fsm.VertexSpec{ID: names[i], Parallelism: 1 + r.src.intn(3),
			Coordinator: pick(r.src, fsm.CoordinatorNone, fsm.CoordinatorPlain, fsm.CoordinatorFallback, fsm.CoordinatorFallback)})
	}
	for to := 1; to < n; to++ {
		for from := 0; from < to; from++ {
			if r.src.bool() {
				spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: names[from], To: names[to],
					Pattern:  pick(r.src, fsm.Pointwise, fsm.AllToAll),
					Exchange: pick(r.src, fsm.Pipelined, fsm.Pipelined, fsm.Blocking, fsm.Hybrid)})
			}
		}
	}
	return spec
}

// config: small times so deadlines come due within a few events, and ratios
// and counts that let the regional path pass more often than not.
func (r *coreRun) config() fsm.Config {
	cfg := fsm.DefaultConfig()
	if r.src.bool() {
		cfg.IntervalMs = fsm.MinIntervalMs + int64(r.src.intn(2000))
	}
	cfg.TimeoutMs = fsm.MinTimeoutMs + int64(r.src.intn(3000))
	cfg.MinPauseMs = pick(r.src, int64(0), 0, 50, 500)
	cfg.MaxConcurrent = 1 + r.src.intn(3)
	cfg.TolerableFailures = r.src.intn(4)
	cfg.Retained = 1 + r.src.intn(3)
	cfg.Regional.Enabled = r.src.intn(4) > 0
	cfg.Regional.MaxFailureRatio = pick(r.src, 0, 0.3, 0.5, 0.5, 1, 1)
	cfg.Regional.MaxConsecutive = pick(r.src, 0, 1, 1, 2, 2, 3)
	cfg.Regional.MaxRefAge = int64(r.src.intn(5))
	cfg.MaxTimeoutMs = pick(r.src, int64(0), 0, cfg.TimeoutMs, 2*cfg.TimeoutMs)
	return cfg
}

// start: sometimes an initial delay, half the time a restore (claim or
// no_claim) whose regions may reference older checkpoints.
func (r *coreRun) start() fsm.Event {
	ev := fsm.Event{Type: fsm.EvStart}
	if r.src.intn(4) == 0 {
		ev.HasInitialDelay, ev.InitialDelayMs = true, int64(r.src.intn(2001))
	}
	if r.src.bool() {
		rs := &fsm.Restore{Checkpoint: 1 + int64(r.src.intn(5)), Mode: pick(r.src, fsm.Claim, fsm.NoClaim)}
		for reg := 0; reg < r.topo.NumRegions(); reg++ {
			if r.src.bool() {
				rs.Refs = append(rs.Refs, fsm.RegionRef{Region: reg, Checkpoint: 1 + int64(r.src.intn(int(rs.Checkpoint)))})
			}
		}
		ev.Restore = rs
	}
	return ev
}

// next draws one event from the next bytes and applies it.
func (r *coreRun) next() {
	s, src := r.s, r.src
	ev := fsm.Event{At: s.Now(), Type: fsm.EvTick}
	if src.intn(4) == 0 { // most events come at the same time as the last one
		ev.At += pick(src, int64(1), 10, 100, 1000, 5000)
	}
	switch src.intn(24) {
	case 0, 1: // time passes, often exactly to the next deadline
		if due, ok := s.NextDeadline(); ok && src.bool() {
			ev.At = max(s.Now(), due-int64(src.intn(2)))
		}
	case 2:
		ev.Type, ev.Kind = fsm.EvTrigger, pick(src, fsm.KindCheckpoint, fsm.KindCheckpoint, fsm.KindSavepoint, fsm.KindStopWithSavepoint)
	case 3, 4, 5, 6, 7, 8, 9, 10: // acks go mostly to a pending checkpoint's waiting subtasks
		ev.Type, ev.Checkpoint, ev.Task = fsm.EvAck, r.id(), r.task()
		r.pending(false, func(p fsm.PendingInfo) {
			ev.Checkpoint = p.ID
			for i, n := 0, r.topo.NumSubtasks(); i < n; i++ {
				if t := fsm.TaskID((int(ev.Task) + i) % n); p.Triggered(t) && !p.Acked(t) {
					ev.Task = t
					break
				}
			}
		})
	case 11, 12:
		ev.Type, ev.Checkpoint, ev.Task = fsm.EvDecline, r.id(), r.task()
		ev.Reason = pick(src, append([]fsm.Reason{"", ""}, fsm.DeclineReasons...)...)
		var id int64
		if r.pending(false, func(p fsm.PendingInfo) { id = p.ID }) && src.bool() {
			ev.Checkpoint = id
		}
	case 13:
		ev.Type, ev.Task = pick(src, fsm.EvTaskFailed, fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished), r.task()
	case 14, 15, 16:
		ev.Type, ev.Checkpoint = pick(src, fsm.EvPersisted, fsm.EvPersisted, fsm.EvPersisted, fsm.EvPersistFailed), r.id()
		r.pending(true, func(p fsm.PendingInfo) { ev.Checkpoint = p.ID })
	case 17:
		r.patch(&ev)
	case 18:
		ev.Type, ev.Request = fsm.EvConfigPersisted, 1+int64(src.intn(int(r.requests)+1))
		if ps := s.PendingPatches(); len(ps) > 0 && src.intn(4) > 0 {
			ev.Request = ps[src.intn(len(ps))]
		}
	case 19:
		ev.Type = fsm.EvRecover
	case 20:
		r.refuse(r.invalid())
		return
	default: // 21–23: a plain tick
	}
	r.step(ev)
}

func (r *coreRun) id() int64 { return 1 + int64(r.src.intn(int(min(r.s.NextID()+1, 1<<16)))) }

func (r *coreRun) task() fsm.TaskID { return fsm.TaskID(r.src.intn(r.topo.NumSubtasks())) }

// pending calls use with one of the pending checkpoints (persisting or not),
// when there is one, chosen by the next byte, and reports whether there was.
// It walks the state's own sets (EachPending) rather than copies of them
// (Pending): this is on the path of most events.
func (r *coreRun) pending(persisting bool, use func(fsm.PendingInfo)) bool {
	n := 0
	r.s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting == persisting {
			n++
		}
		return true
	})
	if n == 0 {
		return false
	}
	k := r.src.intn(n)
	r.s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting == persisting {
			if k == 0 {
				use(p)
				return false
			}
			k--
		}
		return true
	})
	return true
}

// patch draws a FLIP-571 patch: valid values of §2 or values R60 rejects (the
// event is valid either way), sometimes reusing a request id.
func (r *coreRun) patch(ev *fsm.Event) {
	src := r.src
	r.requests++
	ev.Type, ev.Request = fsm.EvConfigPatch, r.requests
	if src.intn(10) == 0 {
		ev.Request = 1 + int64(src.intn(int(r.requests)))
	}
	hi := int64(3000)
	if r.cfg.MaxTimeoutMs > 0 {
		hi = r.cfg.MaxTimeoutMs
	}
	switch src.intn(6) {
	case 0: // empty: rejected
	case 1:
		ev.HasInterval, ev.IntervalMs = true, pick(src, int64(-1), fsm.MinIntervalMs-1, -(1<<53-1))
	case 2:
		ev.HasTimeout, ev.TimeoutMs = true, pick(src, int64(-1), 0, fsm.MinTimeoutMs-1)
	case 3:
		ev.HasTimeout, ev.TimeoutMs = true, hi+1+int64(src.intn(100))
		ev.HasInterval = src.bool()
	default:
		ev.HasInterval = src.bool()
		ev.HasTimeout = !ev.HasInterval || src.bool()
		if ev.HasInterval && src.bool() {
			ev.IntervalMs = fsm.MinIntervalMs + int64(src.intn(2000))
		}
		if ev.HasTimeout {
			ev.TimeoutMs = fsm.MinTimeoutMs + int64(src.intn(int(hi-fsm.MinTimeoutMs+1)))
		}
	}
}

// invalid draws structurally invalid input (R10, R16, HISTORY.md).
func (r *coreRun) invalid() fsm.Event {
	src, s := r.src, r.s
	ev := fsm.Event{At: s.Now(), Type: fsm.EvTick}
	n := fsm.TaskID(r.topo.NumSubtasks())
	switch src.intn(8) {
	case 0:
		ev.At = s.Now() - 1 - int64(src.intn(int(min(s.Now()+1, 1<<16))))
		ev.Type = pick(src, fsm.EvTick, fsm.EvTrigger, fsm.EvRecover, fsm.EvTaskFailed)
	case 1:
		ev.Type, ev.Checkpoint = pick(src, fsm.EvAck, fsm.EvDecline, fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished), r.id()
		ev.Task = pick(src, n, n+1, -1, 1<<20)
	case 2:
		ev.Type, ev.Checkpoint = pick(src, fsm.EvAck, fsm.EvDecline, fsm.EvPersisted, fsm.EvPersistFailed), pick(src, int64(0), -1, 1<<53)
	case 3:
		ev.Type = fsm.EvStart
	case 4:
		ev.Type, ev.Kind = fsm.EvTrigger, fsm.Kind(3+src.intn(253))
	case 5:
		ev.Type, ev.Checkpoint, ev.Reason = fsm.EvDecline, 1, "bogus"
	case 6:
		ev.Type = pick(src, fsm.EvConfigPatch, fsm.EvConfigPersisted)
		ev.Request, ev.HasTimeout, ev.TimeoutMs = pick(src, int64(0), -3), true, 1000
	case 7:
		ev.Type = fsm.EventType(pick(src, 0, 14, 200))
	}
	return ev
}

// step applies an event the core must accept and checks every invariant.
func (r *coreRun) step(ev fsm.Event) {
	effs, err := r.s.Step(ev)
	if err != nil {
		r.fail("harness", "a valid event was refused: %s: %v", fsm.DescribeEvent(r.topo, ev), err)
	}
	r.evs = append(r.evs, ev)
	for _, v := range r.chk.Step(ev, effs, r.s) {
		if knownIssue(ev, v, r.s) == "" {
			r.fail(v.Invariant, "%s", v.Detail)
		}
	}
	if at, ok := r.s.NextDeadline(); ok && at < r.s.Now() {
		r.fail("R10", "after the step at %d something is still due at %d", r.s.Now(), at)
	}
}

// refuse applies an invalid event: the core must return an error, no effect,
// and leave the state as it was (bad input never changes state), compared by
// the core's canonical key (fsm State.AppendKey: everything that can affect
// its future).
func (r *coreRun) refuse(ev fsm.Event) {
	r.key = r.s.AppendKey(r.key[:0])
	effs, err := r.s.Step(ev)
	switch {
	case err == nil:
		r.evs = append(r.evs, ev)
		r.fail("harness", "invalid event accepted: %s (%d effects)", fsm.DescribeEvent(r.topo, ev), len(effs))
	case len(effs) != 0:
		r.fail("harness", "invalid event %s returned %d effects with its error", fsm.DescribeEvent(r.topo, ev), len(effs))
	case !bytes.Equal(r.s.AppendKey(r.after[:0]), r.key):
		r.fail("harness", "invalid event %s (%v) changed the state: now %s",
			fsm.DescribeEvent(r.topo, ev), err, Fingerprint(r.s))
	}
}

// fail stops the run, printing it as a history that replay reproduces.
func (r *coreRun) fail(invariant, format string, args ...any) {
	r.t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "// FuzzCore: %s\n", strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n// "))
	if w, err := history.NewWriter(&b, history.Header{Format: history.Format, Job: r.spec, Config: r.cfg}); err == nil {
		for _, ev := range r.evs {
			if err := w.WriteEvent(ev, nil); err != nil {
				fmt.Fprintf(&b, "// not encodable: %s: %v\n", fsm.DescribeEvent(r.topo, ev), err)
			}
		}
	}
	r.t.Fatalf("%s: %s\nthe history (save it and run `go run ./cmd/ckpt replay FILE`):\n%s",
		invariant, fmt.Sprintf(format, args...), b.String())
}

// coreSeeds are a few hand-made inputs: a regional job with a restore and a
// run of acks, ticks to deadlines, patches and a recovery.
func coreSeeds() [][]byte {
	ops := func(n int, b ...byte) []byte { return bytes.Repeat(b, n) }
	head := []byte{2, 1, 3, 1, 0, 0, 1, 1, 0, 200, 1, 100, 0, 1, 2, 0, 3, 0, 1, 2, 0, 1, 3, 1, 1, 0, 1, 1}
	var seeds [][]byte
	seeds = append(seeds, head)
	seeds = append(seeds, append(append([]byte{}, head...), ops(40, 1, 0, 1, 3, 0, 3, 5, 8, 9, 1, 0)...))
	seeds = append(seeds, append(append([]byte{}, head...), ops(20, 1, 10, 3, 1, 7, 0, 1, 12, 0, 13, 3)...))
	seeds = append(seeds, append(append([]byte{}, head...), ops(30, 0, 2, 0, 3, 1, 0, 6, 2, 5, 0, 0, 11, 0)...))
	return seeds
}
