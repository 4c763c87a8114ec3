package sim

import (
	"fmt"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// Layout says how the regions of a Shape are joined.
type Layout uint8

// Layouts.
const (
	// Parallel is an embarrassingly parallel job: every edge is pointwise and
	// pipelined, so each region is one source subtask with its chain (R4 holds).
	Parallel Layout = iota
	// AllToAll joins every edge all_to_all and pipelined: one region, global
	// checkpoints only.
	AllToAll
	// Blocking makes the last edge all_to_all and blocking: there are many regions
	// but blocking edges cross them, so R4 fails and the core runs global
	// checkpoints only, saying why once at start.
	Blocking
)

var layoutNames = [...]string{"parallel", "all_to_all", "blocking"}

// String returns the flag spelling of the layout.
func (l Layout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return "layout(" + strconv.Itoa(int(l)) + ")"
}

// ParseLayout parses a layout name as String spells it.
func ParseLayout(s string) (Layout, error) {
	for i, n := range layoutNames {
		if n == s {
			return Layout(i), nil
		}
	}
	return 0, fmt.Errorf("sim: unknown layout %q (want parallel, all_to_all or blocking)", s)
}

// Shape describes the simulated job. With the Parallel layout a Shape of R
// regions, depth D and fanout F has R·(1+(D−1)·F) subtasks: a source vertex of
// parallelism R and D−1 further vertices of parallelism R·F, joined pointwise so
// that region i is source subtask i and the F subtasks per vertex it feeds (R2).
type Shape struct {
	Regions int    // source parallelism: the number of regions of a Parallel job (≥ 1)
	Depth   int    // vertices per chain, ≥ 2 (source … sink)
	Fanout  int    // subtasks per region of every non-source vertex, ≥ 1
	Layout  Layout // how the vertices are joined
	// Coordinator is the source vertex's operator coordinator; FLIP-27 sources
	// have one, and region fallback needs it to support fallback (R22e).
	Coordinator fsm.CoordinatorKind
}

// ParallelShape is the experiments' job: n regions, each a source→sink pointwise
// chain, the source with a coordinator that supports region fallback.
func ParallelShape(n int) Shape {
	return Shape{Regions: n, Depth: 2, Fanout: 1, Coordinator: fsm.CoordinatorFallback}
}

// Subtasks returns the number of subtasks of the job.
func (s Shape) Subtasks() int { return s.Regions * (1 + (s.Depth-1)*s.Fanout) }

func (s Shape) validate() error {
	switch {
	case s.Regions < 1:
		return fmt.Errorf("sim: shape: regions %d, must be >= 1", s.Regions)
	case s.Depth < 2:
		return fmt.Errorf("sim: shape: depth %d, must be >= 2 (a source and a sink)", s.Depth)
	case s.Fanout < 1:
		return fmt.Errorf("sim: shape: fanout %d, must be >= 1", s.Fanout)
	case s.Layout > Blocking:
		return fmt.Errorf("sim: shape: unknown layout %d", s.Layout)
	case s.Regions > 1<<24 || s.Depth*s.Fanout > 1<<10:
		return fmt.Errorf("sim: shape: %d regions of depth %d and fanout %d is too large", s.Regions, s.Depth, s.Fanout)
	}
	return nil
}

// Spec returns the job as a history header names it.
func (s Shape) Spec() (fsm.JobSpec, error) {
	if err := s.validate(); err != nil {
		return fsm.JobSpec{}, err
	}
	var spec fsm.JobSpec
	for d := 0; d < s.Depth; d++ {
		v := fsm.VertexSpec{ID: vertexName(d, s.Depth), Parallelism: s.Regions * s.Fanout}
		if d == 0 {
			v.Parallelism, v.Coordinator = s.Regions, s.Coordinator
		}
		spec.Vertices = append(spec.Vertices, v)
		if d == 0 {
			continue
		}
		e := fsm.EdgeSpec{From: spec.Vertices[d-1].ID, To: v.ID}
		switch {
		case s.Layout == AllToAll:
			e.Pattern = fsm.AllToAll
		case s.Layout == Blocking && d == s.Depth-1:
			e.Pattern, e.Exchange = fsm.AllToAll, fsm.Blocking
		}
		spec.Edges = append(spec.Edges, e)
	}
	return spec, nil
}

func vertexName(d, depth int) string {
	switch d {
	case 0:
		return "src"
	case depth - 1:
		return "sink"
	}
	return "op" + strconv.Itoa(d)
}
