package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// jobTables are what the checker derives once per job, computed by New and
// shared by every clone (nothing writes them after New): the base
// configuration and the checker's own tables of the topology, built from its
// plain views (never from fsm's derived tables, so that a bug there is not
// trusted).
type jobTables struct {
	cfg fsm.Config
	// coords lists, per region r, the vertices that have a coordinator and a
	// subtask in r, ascending, at coords[at[r]:at[r+1]]: the vertices whose
	// coordinators fall back when r uses older state (R23). at and coords
	// share one array (one allocation per checker New).
	at, coords []int32
}

func newJobTables(t *fsm.Topology, cfg fsm.Config) *jobTables {
	n := t.NumRegions()
	vs := t.Vertices()
	// A region's vertices are at most its subtasks and at most the vertices.
	size := 0
	for r := 0; r < n; r++ {
		size += min(len(t.RegionTasks(r)), len(vs))
	}
	flat := make([]int32, n+1, n+1+size)
	for r := 0; r < n; r++ {
		start := len(flat)
		for _, id := range t.RegionTasks(r) {
			v := int32(t.VertexOf(id))
			if vs[v].Coordinator == fsm.CoordinatorNone || slices.Contains(flat[start:], v) {
				continue
			}
			flat = append(flat, v)
		}
		slices.Sort(flat[start:])
		flat[r+1] = int32(len(flat) - (n + 1))
	}
	return &jobTables{cfg: cfg, at: flat[:n+1], coords: flat[n+1:]}
}

// regionHasCoordinator reports whether vertex v has a coordinator and a
// subtask in region r (false for a region the job does not have).
func (c *Checker) regionHasCoordinator(r, v int) bool {
	t := c.tab
	return r >= 0 && r+1 < len(t.at) && slices.Contains(t.coords[t.at[r]:t.at[r+1]], int32(v))
}
