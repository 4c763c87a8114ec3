package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// jobTables are the checker's own tables of the job's topology, computed once
// by New from the topology's plain views (never from fsm's derived tables, so
// that a bug there is not trusted) and shared by every clone: nothing writes
// them after New.
type jobTables struct {
	// coords lists, per region, the vertices that have a coordinator and a
	// subtask in the region, ascending: the vertices whose coordinators fall
	// back when the region uses older state (R23).
	coords [][]int
}

func newJobTables(t *fsm.Topology) *jobTables {
	tab := &jobTables{coords: make([][]int, t.NumRegions())}
	vs := t.Vertices()
	for r := range tab.coords {
		var cs []int
		for _, id := range t.RegionTasks(r) {
			v := t.VertexOf(id)
			if vs[v].Coordinator == fsm.CoordinatorNone || slices.Contains(cs, v) {
				continue
			}
			cs = append(cs, v)
		}
		slices.Sort(cs)
		tab.coords[r] = cs
	}
	return tab
}

// regionHasCoordinator reports whether vertex v has a coordinator and a
// subtask in region r (false for a region the job does not have).
func (c *Checker) regionHasCoordinator(r, v int) bool {
	return r >= 0 && r < len(c.tab.coords) && slices.Contains(c.tab.coords[r], v)
}
