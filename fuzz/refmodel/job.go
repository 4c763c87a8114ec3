package refmodel

import (
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// job is the model's own reading of R1–R4: subtasks, their regions, sources and
// coordinators, computed from the job spec with the plainest algorithms (every
// edge pair enumerated, repeated relabelling instead of union-find). It uses
// fsm's spec types as input and nothing of fsm's topology code.
type job struct {
	vertexOf    []int  // subtask -> vertex index
	source      []bool // subtask -> its vertex has no input edge
	coordinator []fsm.CoordinatorKind
	regionOf    []int // subtask -> region
	regions     int
	regionalOK  bool // R4
}

func newJob(spec fsm.JobSpec) *job {
	j := &job{}
	first := map[string]int{}
	par := map[string]int{}
	hasInput := map[string]bool{}
	for _, e := range spec.Edges {
		hasInput[e.To] = true
	}
	for vi, v := range spec.Vertices {
		first[v.ID] = len(j.vertexOf)
		par[v.ID] = v.Parallelism
		for i := 0; i < v.Parallelism; i++ {
			j.vertexOf = append(j.vertexOf, vi)
			j.source = append(j.source, !hasInput[v.ID])
		}
		j.coordinator = append(j.coordinator, v.Coordinator)
	}
	n := len(j.vertexOf)
	// Component labels: start with one label per subtask and merge labels along
	// every pipelined pair until nothing changes (R3).
	label := make([]int, n)
	for i := range label {
		label[i] = i
	}
	for changed := true; changed; {
		changed = false
		for _, e := range spec.Edges {
			if e.Exchange != fsm.Pipelined {
				continue
			}
			for _, pr := range pairs(par[e.From], par[e.To], e.Pattern) {
				a, b := first[e.From]+pr[0], first[e.To]+pr[1]
				if label[a] != label[b] {
					lo, hi := min(label[a], label[b]), max(label[a], label[b])
					for k := range label {
						if label[k] == hi {
							label[k] = lo
						}
					}
					changed = true
				}
			}
		}
	}
	// Regions are numbered in the order of their first subtask (R3).
	number := map[int]int{}
	j.regionOf = make([]int, n)
	for t := 0; t < n; t++ {
		r, ok := number[label[t]]
		if !ok {
			r = len(number)
			number[label[t]] = r
		}
		j.regionOf[t] = r
	}
	j.regions = len(number)
	// R4: no blocking or hybrid pair across regions, and at least two regions.
	j.regionalOK = j.regions >= 2
	for _, e := range spec.Edges {
		if e.Exchange == fsm.Pipelined {
			continue
		}
		for _, pr := range pairs(par[e.From], par[e.To], e.Pattern) {
			if j.regionOf[first[e.From]+pr[0]] != j.regionOf[first[e.To]+pr[1]] {
				j.regionalOK = false
			}
		}
	}
	return j
}

// pairs lists every (upstream, downstream) subtask index pair an edge joins (R2).
func pairs(s, t int, p fsm.Pattern) [][2]int {
	var out [][2]int
	for i := 0; i < s; i++ {
		for k := 0; k < t; k++ {
			if p == fsm.AllToAll || joined(s, t, i, k) {
				out = append(out, [2]int{i, k})
			}
		}
	}
	return out
}

// joined is R2's pointwise rule, written as a predicate on one pair.
func joined(s, t, i, k int) bool {
	switch {
	case s == t:
		return i == k
	case s > t:
		return k*s/t <= i && i < (k+1)*s/t
	default:
		lo := (i*t + s - 1) / s
		hi := ((i+1)*t + s - 1) / s
		return lo <= k && k < hi
	}
}

func (j *job) tasks() int { return len(j.vertexOf) }

// ValidJob is the model's own reading of R1 and R2's refusals: at least one
// vertex, ids non-empty, unique and without '/' or spaces, parallelism >= 1;
// edges between known vertices, no self-loop, no second edge between the same
// two vertices (in the same direction; the other direction is a cycle), and no
// cycle. It finds cycles the plainest way: repeatedly drop vertices without an
// incoming edge; whatever remains lies on a cycle.
func ValidJob(spec fsm.JobSpec) error {
	if len(spec.Vertices) == 0 {
		return errInvalid("no vertices (R1)")
	}
	ids := map[string]bool{}
	for _, v := range spec.Vertices {
		if v.ID == "" || strings.ContainsAny(v.ID, "/ \t\n") || ids[v.ID] || v.Parallelism < 1 {
			return errInvalid("vertex %q (R1)", v.ID)
		}
		ids[v.ID] = true
	}
	type pair struct{ from, to string }
	seen := map[pair]bool{}
	for _, e := range spec.Edges {
		switch {
		case !ids[e.From] || !ids[e.To]:
			return errInvalid("edge %s -> %s: unknown vertex (R2)", e.From, e.To)
		case e.From == e.To:
			return errInvalid("edge %s -> %s: self-loop (R2)", e.From, e.To)
		case seen[pair{e.From, e.To}]:
			return errInvalid("edge %s -> %s: a second edge (R2)", e.From, e.To)
		}
		seen[pair{e.From, e.To}] = true
	}
	left := map[string]bool{}
	for id := range ids {
		left[id] = true
	}
	for changed := true; changed; {
		changed = false
		for id := range left {
			fed := false
			for _, e := range spec.Edges {
				if e.To == id && left[e.From] {
					fed = true
				}
			}
			if !fed {
				delete(left, id)
				changed = true
			}
		}
	}
	if len(left) > 0 {
		return errInvalid("a cycle through %d vertices (R2)", len(left))
	}
	return nil
}

func errInvalid(format string, args ...any) error {
	return fmt.Errorf("refmodel: invalid job: "+format, args...)
}
