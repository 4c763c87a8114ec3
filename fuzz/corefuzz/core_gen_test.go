package corefuzz

import (
	"github.com/ckptcore/ckptcore/fsm"
)

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

// maxVertices bounds the generated jobs: 1–3 vertices of parallelism 1–3.
const maxVertices = 3

// jobKey is a generated job as the list of its choices (vertex count, each
// vertex's parallelism and coordinator, each possible edge's presence, pattern
// and exchange): a comparable key for the job cache, built without printing
// the spec.
type jobKey [1 + 2*maxVertices + 3*maxVertices*(maxVertices-1)/2]uint8

// generatedJob is a job FuzzCore built: its spec (for failure reports) and its
// topology, immutable and shared by every state of that job.
type generatedJob struct {
	spec fsm.JobSpec
	topo *fsm.Topology
}

// jobs caches the jobs FuzzCore builds: a few hundred shapes, each validated
// and laid out once per worker process instead of once per execution.
var jobs = map[jobKey]generatedJob{}

var vertexNames = [maxVertices]string{"a", "b", "c"}

// job: 1–3 vertices of parallelism 1–3, any coordinator, edges from earlier to
// later vertices of either pattern and any exchange (pipelined most often:
// regional mode needs pipelined regions). The choices are drawn first, the
// spec built only for a job not seen before.
func (r *coreRun) job() (generatedJob, error) {
	var k jobKey
	n := 1 + r.src.intn(maxVertices)
	k[0] = uint8(n)
	i := 1
	for v := 0; v < n; v++ {
		k[i] = uint8(1 + r.src.intn(3))
		k[i+1] = uint8(pick(r.src, fsm.CoordinatorNone, fsm.CoordinatorPlain, fsm.CoordinatorFallback, fsm.CoordinatorFallback))
		i += 2
	}
	i = 1 + 2*maxVertices
	for to := 1; to < n; to++ {
		for from := 0; from < to; from++ {
			if r.src.bool() {
				k[i] = 1
				k[i+1] = uint8(pick(r.src, fsm.Pointwise, fsm.AllToAll))
				k[i+2] = uint8(pick(r.src, fsm.Pipelined, fsm.Pipelined, fsm.Blocking, fsm.Hybrid))
			}
			i += 3
		}
	}
	if j, ok := jobs[k]; ok {
		return j, nil
	}
	j := generatedJob{spec: k.spec()}
	t, err := fsm.NewTopology(j.spec)
	if err != nil {
		return j, err
	}
	j.topo = t
	jobs[k] = j
	return j, nil
}

// spec builds the job the key's choices describe (see job).
func (k jobKey) spec() fsm.JobSpec {
	var spec fsm.JobSpec
	n := int(k[0])
	for v := 0; v < n; v++ {
		spec.Vertices = append(spec.Vertices, fsm.VertexSpec{ID: vertexNames[v],
			Parallelism: int(k[1+2*v]), Coordinator: fsm.CoordinatorKind(k[2+2*v])})
	}
	i := 1 + 2*maxVertices
	for to := 1; to < n; to++ {
		for from := 0; from < to; from++ {
			if k[i] == 1 {
				spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: vertexNames[from], To: vertexNames[to],
					Pattern: fsm.Pattern(k[i+1]), Exchange: fsm.Exchange(k[i+2])})
			}
			i += 3
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
		if p, ok := r.pending(false); ok {
			ev.Checkpoint = p.ID
			for i, n := 0, r.topo.NumSubtasks(); i < n; i++ {
				if t := fsm.TaskID((int(ev.Task) + i) % n); p.Triggered(t) && !p.Acked(t) {
					ev.Task = t
					break
				}
			}
		}
	case 11, 12:
		ev.Type, ev.Checkpoint, ev.Task = fsm.EvDecline, r.id(), r.task()
		ev.Reason = pick(src, declineReasons...)
		if p, ok := r.pending(false); ok && src.bool() {
			ev.Checkpoint = p.ID
		}
	case 13:
		ev.Type, ev.Task = pick(src, fsm.EvTaskFailed, fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished), r.task()
	case 14, 15, 16:
		ev.Type, ev.Checkpoint = pick(src, fsm.EvPersisted, fsm.EvPersisted, fsm.EvPersisted, fsm.EvPersistFailed), r.id()
		if p, ok := r.pending(true); ok {
			ev.Checkpoint = p.ID
		}
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

// declineReasons are a decline's reasons, the empty one (no reason given)
// twice as often as each named one.
var declineReasons = append([]fsm.Reason{"", ""}, fsm.DeclineReasons...)

func (r *coreRun) id() int64 { return 1 + int64(r.src.intn(int(min(r.s.NextID()+1, 1<<16)))) }

func (r *coreRun) task() fsm.TaskID { return fsm.TaskID(r.src.intn(r.topo.NumSubtasks())) }

// pending returns one of the pending checkpoints (persisting or not), when
// there is one, chosen by the next byte. It walks the state's own sets
// (EachPending) rather than copies of them (Pending): this is on the path of
// most events.
func (r *coreRun) pending(persisting bool) (fsm.PendingInfo, bool) {
	n := 0
	r.s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting == persisting {
			n++
		}
		return true
	})
	var got fsm.PendingInfo
	if n == 0 {
		return got, false
	}
	k := r.src.intn(n)
	r.s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting == persisting {
			if k == 0 {
				got = p
				return false
			}
			k--
		}
		return true
	})
	return got, true
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
