package fsm

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// State equality (porcupine's Model.Equal/Hash contract, issue 20 point 3).
//
// AppendKey writes a compact canonical encoding of everything in a State that
// can affect its future: two states of one job with equal keys accept and
// refuse the same events and answer each with the same effects and equal-keyed
// successors. The encoding covers the decider queue, the failure manager's
// counted ids, the deferred region-skipped notices and the no_claim flags as
// well as the pending and completed checkpoints; it leaves out only
//
//   - the shared immutable Topology (states of one job share it),
//   - the effect buffer (valid until the next Step),
//   - counters derived from the subtask statuses (running, regionDown,
//     regionUnfinished, regionsDown, unfinished, sourcesUnfinished),
//   - the per-checkpoint counters derived from its bitsets (waitingCount,
//     failedCount, noFallback),
//   - values that are dead while a flag says so: periodicDue while periodic
//     triggering is off, lastComplete before the first completion.
//
// fsm/key_test.go enumerates State's fields by reflection and fails when a
// field is added that neither changes the key nor is listed as derived.

// Relabel is a renaming of subtasks, regions and time under which a job's core
// behaves alike: subtasks map to subtasks of the same vertex, whole regions map
// to regions of the same shape (Topology.Symmetries), and times shift by
// TimeBase. AppendKeyRelabeled encodes the state as its renamed image, so that
// the smallest key over a symmetry group is a canonical form of the orbit.
type Relabel struct {
	task      []TaskID // old -> new
	taskInv   []TaskID // new -> old
	region    []int    // old -> new
	regionInv []int    // new -> old
	regionT   []TaskID // region as a bitset member: old -> new
	// TimeBase is subtracted from every absolute time (the explorer uses the
	// state's own time, so that states differing by a shift of the clock meet:
	// the core compares times only with each other and with durations).
	TimeBase int64
}

// Task returns the new name of subtask id.
func (r *Relabel) Task(id TaskID) TaskID {
	if r == nil || r.task == nil {
		return id
	}
	return r.task[id]
}

// Region returns the new number of region g.
func (r *Relabel) Region(g int) int {
	if r == nil || r.region == nil {
		return g
	}
	return r.region[g]
}

// Time returns time t relative to the TimeBase.
func (r *Relabel) Time(t int64) int64 {
	if r == nil {
		return t
	}
	return t - r.TimeBase
}

// Identity reports whether the relabel renames no subtask.
func (r *Relabel) Identity() bool { return r == nil || r.task == nil }

// WithTimeBase returns a copy of the relabel with another time base.
func (r *Relabel) WithTimeBase(base int64) Relabel {
	c := Relabel{TimeBase: base}
	if r != nil {
		c.task, c.taskInv, c.region, c.regionInv, c.regionT = r.task, r.taskInv, r.region, r.regionInv, r.regionT
	}
	return c
}

// Symmetries returns the renamings under which the job is unchanged: every
// permutation of regions with the same shape (the same vertices in the same
// order, the same coordinators, the same fallback support), each subtask going
// to the subtask at the same position of its new region. The identity comes
// first. Subtasks inside one region are not permuted. The group is the product
// of the symmetric groups of the shape classes; it is cut to the identity when
// it would exceed maxGroup elements (0: no bound).
func (t *Topology) Symmetries(maxGroup int) []Relabel {
	nr := t.NumRegions()
	var classes [][]int
	sig := make([][]byte, nr)
	for r := 0; r < nr; r++ {
		sig[r] = t.regionShape(r)
		placed := false
		for i, c := range classes {
			if bytes.Equal(sig[c[0]], sig[r]) {
				classes[i] = append(c, r)
				placed = true
				break
			}
		}
		if !placed {
			classes = append(classes, []int{r})
		}
	}
	size := 1
	for _, c := range classes {
		for k := 2; k <= len(c); k++ {
			size *= k
			if maxGroup > 0 && size > maxGroup {
				return []Relabel{{}}
			}
		}
	}
	perms := [][]int{identityPerm(nr)}
	for _, c := range classes {
		var next [][]int
		for _, base := range perms {
			for _, p := range permutations(len(c)) {
				q := slices.Clone(base)
				for i, j := range p {
					q[c[i]] = c[j]
				}
				next = append(next, q)
			}
		}
		perms = next
	}
	out := make([]Relabel, 0, len(perms))
	for i, p := range perms {
		if i == 0 {
			out = append(out, Relabel{})
			continue
		}
		out = append(out, t.relabelOf(p))
	}
	return out
}

func (t *Topology) relabelOf(region []int) Relabel {
	n := t.NumSubtasks()
	r := Relabel{task: make([]TaskID, n), taskInv: make([]TaskID, n), region: region,
		regionInv: make([]int, len(region)), regionT: make([]TaskID, len(region))}
	for g, h := range region {
		r.regionInv[h], r.regionT[g] = g, TaskID(h)
		from, to := t.RegionTasks(g), t.RegionTasks(h)
		for k, id := range from {
			r.task[id] = to[k]
			r.taskInv[to[k]] = id
		}
	}
	return r
}

// regionShape encodes what the core can tell of a region: its subtasks'
// vertices in order, its coordinators and its fallback support.
func (t *Topology) regionShape(r int) []byte {
	var b []byte
	for _, id := range t.RegionTasks(r) {
		b = binary.AppendVarint(b, int64(t.vertexOf(id)))
	}
	b = append(b, 0xff)
	for _, c := range t.RegionCoordinators(r) {
		b = binary.AppendVarint(b, int64(c))
	}
	return append(b, boolByte(t.RegionSupportsFallback(r)))
}

func identityPerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// permutations lists every permutation of 0..n-1, the identity first.
func permutations(n int) [][]int {
	if n <= 1 {
		return [][]int{identityPerm(n)}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for pos := n - 1; pos >= 0; pos-- {
			q := make([]int, 0, n)
			q = append(q, p[:pos]...)
			q = append(q, n-1)
			q = append(q, p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// AppendKey appends the state's canonical key to b (see the section comment).
func (s *State) AppendKey(b []byte) []byte { return s.AppendKeyRelabeled(b, nil) }

// Equal reports whether two states have equal keys: they behave alike on every
// future event. States of different jobs are never equal.
func (s *State) Equal(o *State) bool {
	if s.topo != o.topo && !sameTopology(s.topo, o.topo) {
		return false
	}
	var x, y [512]byte
	return bytes.Equal(s.AppendKey(x[:0]), o.AppendKey(y[:0]))
}

func sameTopology(a, b *Topology) bool {
	return slices.Equal(a.vertices, b.vertices) && slices.Equal(a.regionOf, b.regionOf) &&
		slices.Equal(a.members, b.members) && slices.Equal(a.sources, b.sources)
}

// AppendKeyRelabeled appends the key of the state's image under rl (nil: the
// state itself).
func (s *State) AppendKeyRelabeled(b []byte, rl *Relabel) []byte {
	b = append(b, s.cfg.key...)
	b = append(b, boolByte(s.regionalMode), byte(s.job))
	b = appendString(b, string(s.failReason))
	b = binary.AppendVarint(b, rl.Time(s.now))
	// Subtask statuses, in the new order; the running set and the per-region
	// counters are functions of them. Unrenamed, they are copied as they lie.
	if rl.Identity() {
		b = append(b, statusBytes(s.status)...)
	} else {
		for i := range s.status {
			b = append(b, byte(s.status[rl.oldTask(i)]))
		}
	}
	b = binary.AppendVarint(b, s.nextID)
	b = binary.AppendUvarint(b, uint64(len(s.pending)))
	for i := range s.pending {
		b = s.pending[i].appendKey(b, s, rl)
	}
	b = binary.AppendVarint(b, s.completing)
	b = append(b, flags(s.periodicOn, s.periodicQueued, s.hasLastComplete, false))
	if s.periodicOn {
		b = binary.AppendVarint(b, rl.Time(s.periodicDue))
	}
	if s.hasLastComplete {
		b = binary.AppendVarint(b, rl.Time(s.lastComplete))
	}
	b = binary.AppendVarint(b, int64(s.queuedManual))
	b = binary.AppendVarint(b, int64(s.failures))
	b = binary.AppendUvarint(b, uint64(len(s.countedIDs)))
	for _, id := range s.countedIDs {
		b = binary.AppendVarint(b, id)
	}
	b = binary.AppendVarint(b, s.lastSucceeded)
	b = binary.AppendVarint(b, int64(s.consecutive))
	b = append(b, boolByte(s.forceNext))
	b = binary.AppendVarint(b, s.forceFrom) // 0 while nothing is forced
	b = binary.AppendUvarint(b, uint64(len(s.known)))
	for i := range s.known {
		k := &s.known[i]
		b = binary.AppendVarint(b, k.id)
		b = appendRefs(b, k.refs, rl)
		b = append(b, byte(k.mode), flags(k.retained, k.owned, k.restored, false))
		b = binary.AppendVarint(b, int64(k.consecutive))
	}
	b = binary.AppendVarint(b, s.restoredID)
	b = append(b, flags(s.noClaim, s.noClaimWarned, s.noClaimReleased, false))
	// Deferred notices keep their order: it is the order they are delivered in.
	b = binary.AppendUvarint(b, uint64(len(s.skipped)))
	for _, n := range s.skipped {
		b = binary.AppendVarint(b, n.checkpoint)
		b = binary.AppendVarint(b, int64(rl.Region(n.region)))
	}
	b = append(b, boolByte(s.ovActive))
	b = binary.AppendVarint(b, s.ovInterval)
	b = binary.AppendVarint(b, s.ovTimeout)
	b = binary.AppendVarint(b, s.lastRequest)
	b = binary.AppendUvarint(b, uint64(len(s.patches)))
	for _, p := range s.patches {
		b = binary.AppendVarint(b, p.request)
		b = binary.AppendVarint(b, p.intervalMs)
		b = binary.AppendVarint(b, p.timeoutMs)
	}
	return b
}

func (p *pendingCheckpoint) appendKey(b []byte, s *State, rl *Relabel) []byte {
	b = binary.AppendVarint(b, p.id)
	b = append(b, byte(p.kind), flags(p.forced, p.regionalPath, p.persisting, p.regionSizes != nil), byte(p.mode))
	b = binary.AppendVarint(b, rl.Time(p.triggerAt))
	b = binary.AppendVarint(b, rl.Time(p.deadline))
	n := len(s.status)
	b = appendBits(b, p.triggered, n, rl.taskPerm())
	b = appendBits(b, p.waiting, n, rl.taskPerm())
	b = appendBits(b, p.acked, n, rl.taskPerm())
	b = appendBits(b, bitset(p.failed), s.topo.NumRegions(), rl.regionPerm())
	b = binary.AppendVarint(b, int64(p.activeRegions))
	b = appendString(b, string(p.firstCause))
	b = appendRefs(b, p.refs, rl)
	b = binary.AppendVarint(b, int64(p.consecutive))
	// Ack sizes: the totals reach the persist and completed effects.
	b = binary.AppendVarint(b, p.stateSize)
	b = binary.AppendVarint(b, p.checkpointedSize)
	for i := range p.regionSizes {
		r := &p.regionSizes[rl.oldRegion(i)]
		b = binary.AppendVarint(b, r.state)
		b = binary.AppendVarint(b, r.checkpointed)
	}
	return b
}

func (rl *Relabel) oldRegion(g int) int {
	if rl == nil || rl.regionInv == nil {
		return g
	}
	return rl.regionInv[g]
}

func (rl *Relabel) oldTask(i int) int {
	if rl == nil || rl.taskInv == nil {
		return i
	}
	return int(rl.taskInv[i])
}

func (rl *Relabel) taskPerm() []TaskID {
	if rl == nil {
		return nil
	}
	return rl.task
}

func (rl *Relabel) regionPerm() []TaskID {
	if rl == nil {
		return nil
	}
	return rl.regionT
}

// appendBits appends a set of n members renamed by perm (nil: unchanged),
// as little-endian 64-bit words.
func appendBits(b []byte, set bitset, n int, perm []TaskID) []byte {
	if perm == nil {
		for _, w := range set {
			b = binary.AppendUvarint(b, w)
		}
		return b
	}
	var small [4]uint64
	var out []uint64
	if words := (n + 63) / 64; words <= len(small) {
		out = small[:words]
	} else {
		out = make([]uint64, words)
	}
	for wi, w := range set {
		for ; w != 0; w &= w - 1 { // each member, lowest first
			i := wi<<6 + bits.TrailingZeros64(w)
			if i >= n {
				break
			}
			j := perm[i]
			out[j>>6] |= 1 << (uint(j) & 63)
		}
	}
	for _, w := range out {
		b = binary.AppendUvarint(b, w)
	}
	return b
}

// appendRefs appends region references renamed by rl, sorted by the new region
// number as the core keeps them.
func appendRefs(b []byte, refs []RegionRef, rl *Relabel) []byte {
	b = binary.AppendUvarint(b, uint64(len(refs)))
	if rl.Identity() || len(refs) < 2 {
		for _, r := range refs {
			b = binary.AppendVarint(b, int64(rl.Region(r.Region)))
			b = binary.AppendVarint(b, r.Checkpoint)
		}
		return b
	}
	var small [8]RegionRef
	mapped := append(small[:0], refs...)
	for i := range mapped {
		mapped[i].Region = rl.Region(mapped[i].Region)
	}
	slices.SortFunc(mapped, func(x, y RegionRef) int { return x.Region - y.Region })
	for _, r := range mapped {
		b = binary.AppendVarint(b, int64(r.Region))
		b = binary.AppendVarint(b, r.Checkpoint)
	}
	return b
}

func appendConfig(b []byte, c *Config) []byte {
	for _, v := range [...]int64{c.IntervalMs, c.TimeoutMs, c.MinPauseMs, int64(c.MaxConcurrent),
		int64(c.TolerableFailures), int64(c.Retained), int64(c.Regional.MaxConsecutive), c.Regional.MaxRefAge,
		c.MaxTimeoutMs} {
		b = binary.AppendVarint(b, v)
	}
	// The ratio's bits are a large number: 8 fixed bytes, not a 10-byte varint.
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.Regional.MaxFailureRatio))
	return append(b, boolByte(c.Regional.Enabled))
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// flags packs four booleans into one byte, the first in bit 0 (fixed
// arity: a variadic call built a slice for every flag byte of every key).
func flags(a, b, c, d bool) byte {
	return boolByte(a) | boolByte(b)<<1 | boolByte(c)<<2 | boolByte(d)<<3
}

// statusBytes views subtask statuses as the bytes they are (taskStatus is a
// uint8), for a copy without a loop.
func statusBytes(st []taskStatus) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(st))), len(st))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
