package linearizability

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// This file is the porcupine model of checkpoint progress as a client reads it
// through GET /jobs/{jobid}/checkpoints: the latest completed checkpoint, and
// for each region the checkpoint whose state that region uses (its ref, R21).
//
// A read shows one completed checkpoint C with refs ref_C(r). What SEMANTICS
// promises about the sequence of such readings:
//
//   - I-MonotonicIds: checkpoints enter the store in increasing id order, and
//     the store survives a restart (R50), so the latest completed id never
//     goes backwards; and once one is completed, some checkpoint always is.
//   - I-RegionConsistency: 1 ≤ ref_C(r) ≤ C, and a completed checkpoint's
//     metadata never changes: reading C twice gives the same refs.
//   - Lineage (R21 with the core's one persist slot, fsm/ack.go decide): a
//     checkpoint resolves its failed regions' refs against the checkpoint that
//     completed just before it, so ref_C(r) is C itself (r was healthy in C)
//     or ref_P(r) for P the previous completed checkpoint. Hence, for any two
//     completed checkpoints A < C: ref_C(r) ≤ A implies ref_A(r) = ref_C(r) —
//     a region's state never moves back, and never sideways to another old
//     checkpoint. (A region healthy in A has ref_A(r) = A, so a later ref to
//     x < A is illegal; a ref to x ≤ A is the very checkpoint A's lineage
//     names.) A restart keeps this: the job resumes every region from its ref
//     in the latest completed checkpoint (R50), and a checkpoint whose metadata
//     was written before the crash resolved its refs the same way.
//
// Checking the pair rule against the previously read checkpoint alone is
// enough: reads are monotonic, and if the rule holds for consecutive readings
// A < B < C it holds for A < C (ref_C(r) ≤ A < B gives ref_B(r) = ref_C(r),
// then ref_B(r) ≤ A gives ref_A(r) = ref_B(r)). So the state is just the
// latest reading, and the model partitions by job.

// ProgressInput is a read of one job's checkpoint statistics.
type ProgressInput struct {
	Job string `json:"job"`
}

// ProgressOutput is what the read showed: the latest completed checkpoint (0 =
// none yet) and Refs[r], the checkpoint whose state region r uses (empty when
// none completed). Only reads that returned a body are recorded.
type ProgressOutput struct {
	Latest int64   `json:"latest"`
	Refs   []int64 `json:"refs,omitempty"`
}

// progressState is the latest completed checkpoint read so far and its refs,
// encoded as a string so that the state is comparable.
type progressState struct {
	latest int64
	refs   string
}

func encodeRefs(refs []int64) string {
	var b strings.Builder
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(r, 10))
	}
	return b.String()
}

func decodeRefs(s string) []int64 {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	refs := make([]int64, len(parts))
	for i, p := range parts {
		refs[i], _ = strconv.ParseInt(p, 10, 64)
	}
	return refs
}

// progressStep is the model's step: whether a read showing out may follow a
// history whose latest reading is s. The rules, for a read of (C, refs) after
// latest L with refs ref_L:
//
//	C = 0 (nothing completed)  legal iff L = 0
//	C < L                      illegal: the latest went backwards
//	refs                       one per region, as many as before, each in [1, C]
//	C = L                      legal iff refs = ref_L
//	C > L                      legal iff for every r: refs[r] = ref_L(r) or refs[r] > L
func progressStep(s progressState, out ProgressOutput) bool {
	if out.Latest == 0 {
		return s.latest == 0 && len(out.Refs) == 0
	}
	if out.Latest < s.latest || len(out.Refs) == 0 {
		return false
	}
	for _, x := range out.Refs {
		if x < 1 || x > out.Latest {
			return false
		}
	}
	if s.latest == 0 {
		return true
	}
	prev := decodeRefs(s.refs)
	if len(prev) != len(out.Refs) {
		return false
	}
	for r, x := range out.Refs {
		if out.Latest == s.latest && x != prev[r] {
			return false
		}
		if x != prev[r] && x <= s.latest {
			return false
		}
	}
	return true
}

// ProgressModel returns the porcupine model of checkpoint progress, one
// partition per job (see progressStep for the rules).
func ProgressModel() porcupine.Model { return progressModelFrom(progressState{}) }

// progressModelFrom starts from a reading (a segment of a longer history).
func progressModelFrom(init progressState) porcupine.Model {
	return porcupine.Model{
		Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
			byJob := map[string]int{}
			var parts [][]porcupine.Operation
			for _, op := range ops {
				job := op.Input.(ProgressInput).Job
				i, ok := byJob[job]
				if !ok {
					i = len(parts)
					byJob[job] = i
					parts = append(parts, nil)
				}
				parts[i] = append(parts[i], op)
			}
			return parts
		},
		Init: func() any { return init },
		Step: func(state, _, output any) (bool, any) {
			s, out := state.(progressState), output.(ProgressOutput)
			if !progressStep(s, out) {
				return false, s
			}
			if out.Latest == 0 {
				return true, s
			}
			return true, progressState{latest: out.Latest, refs: encodeRefs(out.Refs)}
		},
		Hash: func(state any) uint64 {
			return uint64(state.(progressState).latest) * 0x9e3779b97f4a7c15
		},
		DescribeOperation: func(input, output any) string {
			out := output.(ProgressOutput)
			if out.Latest == 0 {
				return fmt.Sprintf("read %s → none completed", input.(ProgressInput).Job)
			}
			return fmt.Sprintf("read %s → %d refs %v", input.(ProgressInput).Job, out.Latest, out.Refs)
		},
		DescribeState: func(state any) string {
			s := state.(progressState)
			if s.latest == 0 {
				return "none completed"
			}
			return fmt.Sprintf("latest %d refs [%s]", s.latest, s.refs)
		},
	}
}
