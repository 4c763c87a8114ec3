package fuzz

import (
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"pgregory.net/rapid"
)

// TestJobGraph draws arbitrary job graphs — self-loops, second edges between
// two vertices, cycles and unknown vertices included — and checks R1/R2's
// refusals against the reference model's own reading (refmodel.ValidJob): the
// core refuses a job exactly when the model does, naming the rule, and on a
// valid job both agree on every subtask's region and source flag (R1, R3) and
// on whether regional checkpoints are allowed (R4).
func TestJobGraph(t *testing.T) {
	withRapid(t, 2000, 1)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 4).Draw(t, "vertices")
		var spec fsm.JobSpec
		for i := 0; i < n; i++ {
			spec.Vertices = append(spec.Vertices, fsm.VertexSpec{ID: string(rune('a' + i)),
				Parallelism: rapid.IntRange(1, 4).Draw(t, "parallelism")})
		}
		edge := func(from, to int) fsm.EdgeSpec {
			return fsm.EdgeSpec{From: string(rune('a' + from)), To: string(rune('a' + to)),
				Pattern:  rapid.SampledFrom([]fsm.Pattern{fsm.Pointwise, fsm.AllToAll}).Draw(t, "pattern"),
				Exchange: rapid.SampledFrom([]fsm.Exchange{fsm.Pipelined, fsm.Pipelined, fsm.Blocking, fsm.Hybrid}).Draw(t, "exchange")}
		}
		// Mostly forward edges (a DAG), then one defect at most: a second
		// edge, a back edge (a cycle, through other vertices or not), a
		// self-loop or an unknown vertex.
		for from := 0; from < n; from++ {
			for to := from + 1; to < n; to++ {
				if rapid.Bool().Draw(t, "edge?") {
					spec.Edges = append(spec.Edges, edge(from, to))
				}
			}
		}
		switch rapid.IntRange(0, 5).Draw(t, "defect") {
		case 1:
			if len(spec.Edges) > 0 {
				e := spec.Edges[rapid.IntRange(0, len(spec.Edges)-1).Draw(t, "duplicate")]
				e.Pattern = rapid.SampledFrom([]fsm.Pattern{fsm.Pointwise, fsm.AllToAll}).Draw(t, "dup_pattern")
				spec.Edges = append(spec.Edges, e)
			}
		case 2:
			if len(spec.Edges) > 0 {
				e := spec.Edges[rapid.IntRange(0, len(spec.Edges)-1).Draw(t, "reverse")]
				spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: e.To, To: e.From})
			}
		case 3:
			v := rapid.IntRange(0, n-1).Draw(t, "self")
			spec.Edges = append(spec.Edges, edge(v, v))
		case 4:
			spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: "a", To: "zz"})
		}
		spec.Edges = rapid.Permutation(spec.Edges).Draw(t, "edge_order")
		topo, err := fsm.NewTopology(spec)
		want := refmodel.ValidJob(spec)
		switch {
		case err == nil && want != nil:
			t.Fatalf("R2 violated: the core accepts an invalid job (%v): %+v", want, spec)
		case err != nil && want == nil:
			t.Fatalf("R2 violated: the core refuses a valid job: %v: %+v", err, spec)
		case err != nil:
			if !strings.Contains(err.Error(), "(R2)") && !strings.Contains(err.Error(), "(R1)") {
				t.Fatalf("R2 violated: the refusal names no rule: %v", err)
			}
			return
		}
		checkTopologyAgrees(t, spec, topo)
	})
}

// checkTopologyAgrees builds the core and the reference model of a valid job in
// regional mode and fails unless they agree on its regions and regional mode
// (R3, R4), on the region of every subtask (R3) and on its sources (R1).
func checkTopologyAgrees(t *rapid.T, spec fsm.JobSpec, topo *fsm.Topology) {
	cfg := fsm.DefaultConfig()
	cfg.Regional.Enabled = true
	ref, err := refmodel.New(spec, cfg, refmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if topo.NumRegions() != ref.Regions() || s.RegionalMode() != ref.RegionalMode() {
		t.Fatalf("R3/R4 violated: core: %d regions, regional %t; refmodel: %d regions, regional %t",
			topo.NumRegions(), s.RegionalMode(), ref.Regions(), ref.RegionalMode())
	}
	srcs := map[fsm.TaskID]bool{}
	for _, id := range topo.Sources() {
		srcs[id] = true
	}
	for id := 0; id < topo.NumSubtasks(); id++ {
		task := fsm.TaskID(id)
		if got, want := topo.RegionOf(task), ref.RegionOf(id); got != want {
			t.Fatalf("R3 violated: %s: core region r%d, refmodel r%d", topo.TaskName(task), got, want)
		}
		if srcs[task] != ref.Source(id) {
			t.Fatalf("R1 violated: %s: core source %t, refmodel %t", topo.TaskName(task), srcs[task], ref.Source(id))
		}
	}
}
