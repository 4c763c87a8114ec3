package fuzz

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Fingerprint renders everything fsm's exported views show of a state, in a
// fixed order, as one canonical string: two states with different views have
// different fingerprints. It is readable (tests print it in diffs) and does not
// depend on how the state got there. It is not the state's identity: fsm's
// AppendKey / Equal are (they also cover the decider queue, the failure
// manager's counted ids and the deferred notices, which have no view).
func Fingerprint(s *fsm.State) string {
	var b strings.Builder
	topo := s.Topology()
	fmt.Fprintf(&b, "job=%s fail=%q now=%d next=%d regional=%t consecutive=%d forcing=%t force_next=%t failures=%d",
		s.Job(), s.FailReason(), s.Now(), s.NextID(), s.RegionalMode(), s.Consecutive(), s.Forcing(),
		s.AllSourcesForcing(), s.Failures())
	e := s.Effective()
	fmt.Fprintf(&b, " cfg=%d/%d/%t", e.IntervalMs, e.TimeoutMs, e.OverridesActive)
	if at, ok := s.NextDeadline(); ok {
		fmt.Fprintf(&b, " due=%d", at)
	}
	b.WriteString(" tasks=")
	for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
		switch {
		case s.TaskFinished(id):
			b.WriteByte('F')
		case s.TaskRunning(id):
			b.WriteByte('R')
		default:
			b.WriteByte('S') // restarting
		}
	}
	for _, p := range s.Pending() {
		fmt.Fprintf(&b, "\npending %d %s forced=%t regional_path=%t at=%d deadline=%d persisting=%t failed=%d cause=%q",
			p.ID, p.Kind, p.ForcedGlobal, p.RegionalPath, p.TriggerAt, p.Deadline, p.Persisting, p.FailedCount, p.FirstCause)
		b.WriteString(" triggered=")
		for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
			b.WriteByte(bit(p.Triggered(id)))
		}
		b.WriteString(" acked=")
		for id := fsm.TaskID(0); int(id) < topo.NumSubtasks(); id++ {
			b.WriteByte(bit(p.Acked(id)))
		}
		b.WriteString(" failed_regions=")
		for r := 0; r < topo.NumRegions(); r++ {
			b.WriteByte(bit(p.RegionFailed(r)))
		}
		fmt.Fprintf(&b, " refs=%s", refsString(p.Refs()))
	}
	for _, k := range s.Known() {
		fmt.Fprintf(&b, "\nknown %d %s consecutive=%d retained=%t owned=%t restored=%t refs=%s",
			k.ID, k.Mode, k.Consecutive, k.Retained, k.Owned, k.Restored, refsString(k.Refs))
	}
	id, noClaim := s.RestoredSnapshot()
	fmt.Fprintf(&b, "\nrestored=%d no_claim=%t patches=%v", id, noClaim, s.PendingPatches())
	return b.String()
}

func bit(v bool) byte {
	if v {
		return '1'
	}
	return '0'
}

func refsString(refs []fsm.RegionRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fsm.RegionName(r.Region) + "->" + strconv.FormatInt(r.Checkpoint, 10)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Key is a 128-bit fingerprint of an encoding (Hash128).
type Key [2]uint64

// StateKey fingerprints a core state: fsm's canonical key, hashed.
func StateKey(s *fsm.State) Key { return Hash128(s.AppendKey(nil)) }

// Hash128 is a fast, deterministic, non-cryptographic 128-bit hash: two
// multiply-rotate lanes over 8-byte words, each finished with the splitmix64
// mixer. Deterministic across runs and machines, so explorations are
// reproducible; keys come from a canonical encoding, never from an adversary.
func Hash128(b []byte) Key {
	const (
		m1 = 0x9e3779b97f4a7c15
		m2 = 0xc2b2ae3d27d4eb4f
		m3 = 0x165667b19e3779f9
	)
	h1, h2 := uint64(len(b))*m3, ^uint64(len(b))
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		h1 = bits.RotateLeft64((h1^w)*m1, 29)
		h2 = bits.RotateLeft64((h2+w)*m2, 31) ^ h1
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	h1 = bits.RotateLeft64((h1^tail)*m1, 29)
	h2 = bits.RotateLeft64((h2+tail)*m2, 31) ^ h1
	return Key{mix64(h1 ^ h2*m3), mix64(h2 + h1*m2)}
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
