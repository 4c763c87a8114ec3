package fsm

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// SnapshotError is a malformed snapshot: the field that is wrong, the byte
// offset where it starts and why.
type SnapshotError struct {
	Field  string
	Offset int
	Reason string
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("fsm: snapshot: %s (byte %d): %s", e.Field, e.Offset, e.Reason)
}

// maxSnapshotReason bounds a reason's length: every reason the core writes is
// one of the Reason constants.
const maxSnapshotReason = 64

// snapshotReasons are the reasons a state can hold (failReason, firstCause).
var snapshotReasons = map[Reason]bool{"": true, ReasonDeclined: true, ReasonAsyncException: true,
	ReasonTaskNotReady: true, ReasonTaskClosing: true, ReasonOnCancellation: true, ReasonDeclinedSubsumed: true,
	ReasonInputEndOfStream: true, ReasonExpired: true, ReasonFinalizeFailed: true, ReasonRegionFailover: true,
	ReasonRecovered: true, ReasonNotAllRunning: true, ReasonTooManyRequests: true, ReasonMinPause: true,
	ReasonIDsExhausted: true, ReasonCoordinatorSuspend: true, ReasonCoordinatorShutdown: true,
	ReasonTolerableExceeded: true, ReasonStopWithSavepointErr: true}

// DecodeSnapshot rebuilds a core from a snapshot AppendSnapshot wrote for a
// job of this topology. Decoding is strict: every malformed or inconsistent
// snapshot — truncated, trailing bytes, another job's shape, an invalid
// configuration (§2), a value out of range, ids not increasing or not below the
// id counter (I-MonotonicIds), references that are not older (I-RegionConsistency),
// a pending checkpoint whose sets break its bookkeeping invariants — is a
// *SnapshotError naming the field. Memory is bounded by the input: every count
// is checked against the bytes left before anything is allocated for it.
func DecodeSnapshot(topo *Topology, b []byte) (*State, error) {
	d := &snapReader{b: b}
	s, err := d.state(topo)
	if err != nil {
		return nil, err
	}
	if d.i != len(b) {
		return nil, &SnapshotError{Field: "end", Offset: d.i, Reason: fmt.Sprintf("%d trailing bytes", len(b)-d.i)}
	}
	return s, nil
}

// snapReader reads a snapshot; the first error sticks and later reads return
// zero values.
type snapReader struct {
	b       []byte
	i       int
	err     error
	scratch [binary.MaxVarintLen64]byte
}

func (d *snapReader) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = &SnapshotError{Field: field, Offset: d.i, Reason: fmt.Sprintf(format, args...)}
	}
}

// int reads a varint in [lo, hi].
func (d *snapReader) int(field string, lo, hi int64) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.fail(field, "truncated or overlong varint")
		return 0
	}
	if binary.PutVarint(d.scratch[:], v) != n {
		d.fail(field, "non-minimal varint") // one state, one encoding
		return 0
	}
	if v < lo || v > hi {
		d.fail(field, "%d outside [%d, %d]", v, lo, hi)
		return 0
	}
	d.i += n
	return v
}

func (d *snapReader) uint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail(field, "truncated or overlong varint")
		return 0
	}
	if binary.PutUvarint(d.scratch[:], v) != n {
		d.fail(field, "non-minimal varint")
		return 0
	}
	d.i += n
	return v
}

// count reads a length of items of at least minBytes each: it cannot exceed
// what is left of the input, which bounds every allocation.
func (d *snapReader) count(field string, minBytes int) int {
	start := d.i
	v := d.uint(field)
	if d.err == nil && v > uint64((len(d.b)-d.i)/minBytes) {
		d.i = start
		d.fail(field, "count %d exceeds the %d bytes left", v, len(d.b)-d.i)
		return 0
	}
	return int(v)
}

// small reads one byte below n.
func (d *snapReader) small(field string, n byte) byte {
	if d.err != nil {
		return 0
	}
	if d.i >= len(d.b) {
		d.fail(field, "truncated")
		return 0
	}
	v := d.b[d.i]
	if v >= n {
		d.fail(field, "%d is not below %d", v, n)
		return 0
	}
	d.i++
	return v
}

func (d *snapReader) bool(field string) bool { return d.small(field, 2) == 1 }

func (d *snapReader) reason(field string) Reason {
	n := d.count(field, 1)
	if d.err != nil {
		return ""
	}
	if n > maxSnapshotReason {
		d.fail(field, "%d bytes: longer than any reason", n)
		return ""
	}
	r := Reason(d.b[d.i : d.i+n])
	if !snapshotReasons[r] {
		d.fail(field, "unknown reason %q", string(r))
		return ""
	}
	d.i += n
	return r
}

// set reads a bitset of n members (words exactly as the core allocates them;
// no bit at or above n).
func (d *snapReader) set(field string, n int) bitset {
	words := make(bitset, (n+63)/64)
	for w := range words {
		words[w] = d.uint(field)
	}
	if d.err == nil && n%64 != 0 && len(words) > 0 && words[len(words)-1]>>(uint(n)%64) != 0 {
		d.fail(field, "a member at or above %d", n)
	}
	return words
}

// refs reads region references of checkpoint id: regions increasing and in
// range, each naming an older checkpoint (R21).
func (d *snapReader) refs(field string, topo *Topology, id int64) []RegionRef {
	n := d.count(field, 2)
	if n == 0 || d.err != nil {
		return nil
	}
	if n > topo.NumRegions() {
		d.fail(field, "%d references, the job has %d regions", n, topo.NumRegions())
		return nil
	}
	refs := make([]RegionRef, n)
	for j := range refs {
		f := fmt.Sprintf("%s[%d]", field, j)
		refs[j].Region = int(d.int(f+".region", 0, int64(topo.NumRegions()-1)))
		refs[j].Checkpoint = d.int(f+".checkpoint", 1, max(1, id-1))
		if d.err == nil && j > 0 && refs[j-1].Region >= refs[j].Region {
			d.fail(f+".region", "regions must increase")
		}
		if d.err == nil && refs[j].Checkpoint >= id {
			d.fail(f+".checkpoint", "%d is not older than %d (I-RegionConsistency)", refs[j].Checkpoint, id)
		}
	}
	return refs
}

// Bounds of values the core keeps within ±(2^53−1) (HISTORY.md's number range);
// a deadline is a time plus a timeout, so it gets twice the room.
const (
	snapTime     = MaxSafeInt
	snapDeadline = 2 * MaxSafeInt
)

func (d *snapReader) state(topo *Topology) (*State, error) {
	if len(d.b) < len(snapshotMagic) || string(d.b[:len(snapshotMagic)-1]) != snapshotMagic[:len(snapshotMagic)-1] {
		return nil, &SnapshotError{Field: "magic", Reason: "not a ckptcore snapshot"}
	}
	if v := d.b[len(snapshotMagic)-1]; v != snapshotMagic[len(snapshotMagic)-1] {
		return nil, &SnapshotError{Field: "version", Offset: len(snapshotMagic) - 1,
			Reason: fmt.Sprintf("layout version %d, this reader knows %d", v, snapshotMagic[len(snapshotMagic)-1])}
	}
	d.i = len(snapshotMagic)
	var cfg Config
	cfg.IntervalMs = d.int("config.interval_ms", math.MinInt64, math.MaxInt64)
	cfg.TimeoutMs = d.int("config.timeout_ms", math.MinInt64, math.MaxInt64)
	cfg.MinPauseMs = d.int("config.min_pause_ms", math.MinInt64, math.MaxInt64)
	cfg.MaxConcurrent = int(d.int("config.max_concurrent", math.MinInt32, math.MaxInt32))
	cfg.TolerableFailures = int(d.int("config.tolerable_failures", math.MinInt32, math.MaxInt32))
	cfg.Retained = int(d.int("config.retained", math.MinInt32, math.MaxInt32))
	cfg.Regional.MaxConsecutive = int(d.int("config.regional.max_consecutive", math.MinInt32, math.MaxInt32))
	cfg.Regional.MaxRefAge = d.int("config.regional.max_ref_age", math.MinInt64, math.MaxInt64)
	cfg.MaxTimeoutMs = d.int("config.max_timeout_ms", math.MinInt64, math.MaxInt64)
	cfg.Regional.MaxFailureRatio = math.Float64frombits(d.uint("config.regional.max_failure_ratio"))
	cfg.Regional.Enabled = d.bool("config.regional.enabled")
	n, regions := topo.NumSubtasks(), topo.NumRegions()
	if v := d.uint("job.subtasks"); d.err == nil && v != uint64(n) {
		d.fail("job.subtasks", "%d subtasks, the job has %d", v, n)
	}
	if v := d.uint("job.regions"); d.err == nil && v != uint64(regions) {
		d.fail("job.regions", "%d regions, the job has %d", v, regions)
	}
	if d.err != nil {
		return nil, d.err
	}
	s, err := New(topo, cfg)
	if err != nil {
		return nil, &SnapshotError{Field: "config", Offset: len(snapshotMagic), Reason: err.Error()}
	}

	s.job = JobStatus(d.small("job_status", byte(len(jobStatusNames))))
	s.failReason = d.reason("fail_reason")
	s.now = d.int("now", 0, snapTime)
	for id := 0; id < n; id++ {
		// setStatus keeps the counters derived from the statuses.
		s.setStatus(TaskID(id), taskStatus(d.small(fmt.Sprintf("status[%d]", id), byte(taskFinished)+1)))
	}
	s.nextID = d.int("next_id", 1, MaxSafeInt+1)
	s.completing = d.int("completing", 0, MaxSafeInt)
	if np := d.count("pending", 12); np > 0 {
		s.pending = make([]pendingCheckpoint, np)
		for i := range s.pending {
			d.pending(fmt.Sprintf("pending[%d]", i), s, &s.pending[i])
			if d.err == nil && i > 0 && s.pending[i-1].id >= s.pending[i].id {
				d.fail(fmt.Sprintf("pending[%d].id", i), "ids must increase")
			}
		}
	}

	s.periodicOn, s.periodicQueued, s.hasLastComplete = d.bool("periodic_on"), d.bool("periodic_queued"), d.bool("has_last_complete")
	s.periodicDue = d.int("periodic_due", -snapDeadline, snapDeadline)
	s.lastComplete = d.int("last_complete", 0, snapTime)
	s.queuedManual = int(d.int("queued_manual", 0, maxQueuedRequests))

	s.failures = int(d.int("failures", 0, math.MaxInt32))
	if nc := d.count("counted_ids", 1); nc > 0 {
		s.countedIDs = make([]int64, nc)
		for i := range s.countedIDs {
			s.countedIDs[i] = d.int(fmt.Sprintf("counted_ids[%d]", i), 1, MaxSafeInt)
		}
	}
	s.lastSucceeded = d.int("last_succeeded", 0, MaxSafeInt)

	s.consecutive = int(d.int("consecutive", 0, math.MaxInt32))
	s.forceNext = d.bool("force_next")
	s.forceFrom = d.int("force_from", 0, MaxSafeInt+1)

	if nk := d.count("known", 7); nk > 0 {
		s.known = make([]knownCheckpoint, nk)
		for i := range s.known {
			f := fmt.Sprintf("known[%d]", i)
			k := &s.known[i]
			k.id = d.int(f+".id", 1, MaxSafeInt)
			if d.err == nil && (k.id >= s.nextID || i > 0 && s.known[i-1].id >= k.id) {
				d.fail(f+".id", "%d: ids must increase and stay below next_id %d (I-MonotonicIds)", k.id, s.nextID)
			}
			k.refs = d.refs(f+".refs", topo, k.id)
			k.mode = Mode(d.small(f+".mode", byte(ModeRegional)+1))
			k.retained, k.owned, k.restored = d.bool(f+".retained"), d.bool(f+".owned"), d.bool(f+".restored")
			k.consecutive = int(d.int(f+".consecutive", 0, math.MaxInt32))
		}
	}
	s.restoredID = d.int("restored_id", 0, MaxSafeInt)
	s.noClaim, s.noClaimWarned, s.noClaimReleased = d.bool("no_claim"), d.bool("no_claim_warned"), d.bool("no_claim_released")
	if ns := d.count("skipped", 2); ns > 0 {
		s.skipped = make([]skipNotice, ns)
		for i := range s.skipped {
			f := fmt.Sprintf("skipped[%d]", i)
			s.skipped[i].checkpoint = d.int(f+".checkpoint", 1, MaxSafeInt)
			s.skipped[i].region = int(d.int(f+".region", 0, int64(regions-1)))
		}
	}

	s.ovActive = d.bool("overrides_active")
	s.ovInterval = d.int("overrides.interval_ms", 0, MaxSafeInt)
	s.ovTimeout = d.int("overrides.timeout_ms", 0, MaxSafeInt)
	if d.err == nil && s.ovActive {
		if err := validInterval(s.ovInterval); err != nil {
			d.fail("overrides.interval_ms", "%v", err)
		} else if err := validTimeout(s.ovTimeout, cfg.MaxTimeoutMs); err != nil {
			d.fail("overrides.timeout_ms", "%v", err)
		}
	}
	s.lastRequest = d.int("last_request", 0, MaxSafeInt)
	if np := d.count("patches", 3); np > 0 {
		s.patches = make([]configPatch, np)
		for i := range s.patches {
			f := fmt.Sprintf("patches[%d]", i)
			p := &s.patches[i]
			p.request = d.int(f+".request", 1, MaxSafeInt)
			if d.err == nil && (p.request > s.lastRequest || i > 0 && s.patches[i-1].request >= p.request) {
				d.fail(f+".request", "%d: request ids must increase up to last_request %d (R60)", p.request, s.lastRequest)
			}
			p.intervalMs = d.int(f+".interval_ms", 0, MaxSafeInt)
			p.timeoutMs = d.int(f+".timeout_ms", 1, MaxSafeInt)
		}
	}
	// Periodic triggering runs only on a positive period (R11; a patch to
	// interval 0 turns it off), which the decider divides by.
	if d.err == nil && s.periodicOn && s.period() <= 0 {
		d.fail("periodic_on", "periodic triggering is on, but the interval in force is 0 (R11)")
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// pending reads one pending checkpoint into p and recomputes its derived
// counters, then checks its bookkeeping invariants (pendingCheckpoint).
func (d *snapReader) pending(f string, s *State, p *pendingCheckpoint) {
	topo := s.topo
	n, regions := topo.NumSubtasks(), topo.NumRegions()
	p.id = d.int(f+".id", 1, MaxSafeInt)
	if d.err == nil && p.id >= s.nextID {
		d.fail(f+".id", "%d is not below next_id %d (I-MonotonicIds)", p.id, s.nextID)
	}
	p.kind = Kind(d.small(f+".kind", byte(len(kindNames))))
	p.forced, p.regionalPath, p.persisting = d.bool(f+".forced"), d.bool(f+".regional_path"), d.bool(f+".persisting")
	p.mode = Mode(d.small(f+".mode", byte(ModeRegional)+1))
	p.triggerAt = d.int(f+".trigger_at", 0, s.now)
	p.deadline = d.int(f+".deadline", p.triggerAt, snapDeadline)
	p.triggered = d.set(f+".triggered", n)
	p.waiting = d.set(f+".waiting", n)
	p.acked = d.set(f+".acked", n)
	p.failed = regionSet(d.set(f+".failed", regions))
	p.activeRegions = int(d.int(f+".active_regions", 0, int64(regions)))
	p.firstCause = d.reason(f + ".first_cause")
	p.stateSize = d.int(f+".state_size", 0, MaxSafeInt)
	p.checkpointedSize = d.int(f+".checkpointed_size", 0, MaxSafeInt)
	if d.bool(f + ".region_sizes") {
		p.regionSizes = make([]ackSizes, regions)
		for r := range p.regionSizes {
			p.regionSizes[r].state = d.int(fmt.Sprintf("%s.region_sizes[%d].state", f, r), 0, MaxSafeInt)
			p.regionSizes[r].checkpointed = d.int(fmt.Sprintf("%s.region_sizes[%d].checkpointed", f, r), 0, MaxSafeInt)
		}
	}
	p.refs = d.refs(f+".refs", topo, p.id)
	p.consecutive = int(d.int(f+".consecutive", 0, math.MaxInt32))
	if d.err != nil {
		return
	}
	p.waitingCount = p.waiting.count()
	p.failedCount = p.failed.count()
	for r := p.failed.next(0); r >= 0; r = p.failed.next(r + 1) {
		if !topo.RegionSupportsFallback(r) {
			p.noFallback++
		}
	}
	if p.failedCount > 0 && !p.regionalPath {
		d.fail(f+".failed", "regions failed on the global path (R17 aborts instead)")
		return
	}
	if err := p.checkBookkeeping(topo); err != nil {
		d.fail(f, "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("checkpoint %d: ", p.id)))
	}
}
