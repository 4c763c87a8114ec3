package fsm

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestJobGraphIsADAG: R2 refuses cycles, self-loops and a second edge between
// the same two vertices, naming the edge or the cycle.
func TestJobGraphIsADAG(t *testing.T) {
	v := []VertexSpec{{ID: "a", Parallelism: 2}, {ID: "b", Parallelism: 2}, {ID: "c", Parallelism: 1}}
	cases := []struct {
		edges []EdgeSpec
		want  string
	}{
		{[]EdgeSpec{{From: "a", To: "b"}, {From: "b", To: "c"}, {From: "c", To: "a"}}, `cycle "a" -> "b" -> "c" -> "a"`},
		{[]EdgeSpec{{From: "a", To: "b"}, {From: "b", To: "a"}}, `cycle "a" -> "b" -> "a"`},
		{[]EdgeSpec{{From: "b", To: "b"}}, `edges[0]: self-loop on vertex "b"`},
		{[]EdgeSpec{{From: "a", To: "b"}, {From: "a", To: "c"}, {From: "a", To: "b", Pattern: AllToAll}},
			`edges[2]: a second edge from "a" to "b" (edges[0] is the first)`},
	}
	for _, c := range cases {
		_, err := NewTopology(JobSpec{Vertices: v, Edges: c.edges})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "(R2)") {
			t.Errorf("%v: got %v, want an R2 error containing %q", c.edges, err, c.want)
		}
	}
	// A diamond is a DAG, not a cycle.
	mustTopo(t, JobSpec{Vertices: append(v, VertexSpec{ID: "d", Parallelism: 1}),
		Edges: []EdgeSpec{{From: "a", To: "b"}, {From: "a", To: "c"}, {From: "b", To: "d"}, {From: "c", To: "d"}}})
}

// naiveRegions computes R3's regions by joining every subtask pair each
// pipelined edge connects, all_to_all included (O(S·T)), and numbers them as R3
// says: the reference for the vertex-level computation.
func naiveRegions(spec JobSpec) []int32 {
	first := map[string]int{}
	par := map[string]int{}
	n := 0
	for _, v := range spec.Vertices {
		first[v.ID], par[v.ID] = n, v.Parallelism
		n += v.Parallelism
	}
	uf := newUnionFind(n)
	for _, e := range spec.Edges {
		if e.Exchange != Pipelined {
			continue
		}
		s, tt := par[e.From], par[e.To]
		for i := 0; i < s; i++ {
			for j := 0; j < tt; j++ {
				joined := e.Pattern == AllToAll ||
					s == tt && i == j ||
					s > tt && i >= j*s/tt && i < (j+1)*s/tt ||
					s < tt && j >= ceilDiv(i*tt, s) && j < ceilDiv((i+1)*tt, s)
				if joined {
					uf.union(int32(first[e.From]+i), int32(first[e.To]+j))
				}
			}
		}
	}
	out := make([]int32, n)
	num := map[int32]int32{}
	for id := 0; id < n; id++ {
		root := uf.find(int32(id))
		if _, ok := num[root]; !ok {
			num[root] = int32(len(num))
		}
		out[id] = num[root]
	}
	return out
}

// TestRegionsMatchNaive: the vertex-level region computation (whole vertices,
// R2's cost bound) gives exactly the regions of the pairwise definition, on
// random DAGs with every pattern and exchange.
func TestRegionsMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 2000; iter++ {
		nv := 1 + rng.Intn(6)
		var spec JobSpec
		for i := 0; i < nv; i++ {
			spec.Vertices = append(spec.Vertices, VertexSpec{ID: fmt.Sprint("v", i), Parallelism: 1 + rng.Intn(6)})
		}
		for i := 0; i < nv; i++ {
			for j := i + 1; j < nv; j++ {
				if rng.Intn(3) == 0 {
					spec.Edges = append(spec.Edges, EdgeSpec{From: spec.Vertices[i].ID, To: spec.Vertices[j].ID,
						Pattern: Pattern(rng.Intn(2)), Exchange: Exchange(rng.Intn(3))})
				}
			}
		}
		topo := mustTopo(t, spec)
		want := naiveRegions(spec)
		for id := range want {
			if got := int32(topo.RegionOf(TaskID(id))); got != want[id] {
				t.Fatalf("%+v: subtask %s in region %d, want %d", spec, topo.TaskName(TaskID(id)), got, want[id])
			}
		}
	}
}

// BenchmarkRegionsAllToAllFan: R2's cost bound. 21 vertices of 2^24/21 subtasks
// each, every pair joined by an all_to_all edge (210 edges, the size of the
// header that used to take 35 s): one pass over the subtasks.
func BenchmarkRegionsAllToAllFan(b *testing.B) {
	const nv = 21
	var spec JobSpec
	for i := 0; i < nv; i++ {
		spec.Vertices = append(spec.Vertices, VertexSpec{ID: fmt.Sprint("v", i), Parallelism: MaxSubtasks / nv})
	}
	for i := 0; i < nv; i++ {
		for j := i + 1; j < nv; j++ {
			spec.Edges = append(spec.Edges, EdgeSpec{From: spec.Vertices[i].ID, To: spec.Vertices[j].ID, Pattern: AllToAll})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTopology(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegionsTwoHugeVertices: two vertices of 2^23 subtasks joined by one
// all_to_all edge (a second one is refused, R2).
func BenchmarkRegionsTwoHugeVertices(b *testing.B) {
	spec := JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 1 << 23}, {ID: "b", Parallelism: 1 << 23}},
		Edges: []EdgeSpec{{From: "a", To: "b", Pattern: AllToAll}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTopology(spec); err != nil {
			b.Fatal(err)
		}
	}
}
