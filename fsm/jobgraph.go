package fsm

import "fmt"

// jobEdge is a validated edge between vertex indexes.
type jobEdge struct {
	from, to int
	pattern  Pattern
	exchange Exchange
}

// resolveEdges validates the edges against R2: both ends name vertices, no
// self-loop, at most one edge between two vertices, and no cycle (the job graph
// is a DAG, as Flink's JobGraph). It marks the vertices with an input edge as
// non-sources (R1). Cost O(vertices + edges).
func (t *Topology) resolveEdges(specs []EdgeSpec) ([]jobEdge, error) {
	edges := make([]jobEdge, 0, len(specs))
	type pair struct{ from, to int }
	seen := make(map[pair]int, len(specs))
	for i, e := range specs {
		from, ok := t.byID[e.From]
		if !ok {
			return nil, fmt.Errorf("job: edges[%d]: unknown vertex %q in from (R2)", i, e.From)
		}
		to, ok := t.byID[e.To]
		if !ok {
			return nil, fmt.Errorf("job: edges[%d]: unknown vertex %q in to (R2)", i, e.To)
		}
		if from == to {
			return nil, fmt.Errorf("job: edges[%d]: self-loop on vertex %q (R2)", i, e.From)
		}
		if j, dup := seen[pair{from, to}]; dup {
			return nil, fmt.Errorf("job: edges[%d]: a second edge from %q to %q (edges[%d] is the first): "+
				"two vertices are joined by at most one edge (R2)", i, e.From, e.To, j)
		}
		seen[pair{from, to}] = i
		t.vertices[to].Source = false
		edges = append(edges, jobEdge{from, to, e.Pattern, e.Exchange})
	}
	if cycle := findCycle(len(t.vertices), edges); cycle != nil {
		names := ""
		for k, v := range cycle {
			if k > 0 {
				names += " -> "
			}
			names += fmt.Sprintf("%q", t.vertices[v].ID)
		}
		return nil, fmt.Errorf("job: the edges form a cycle %s: the job graph must be acyclic (R2)", names)
	}
	return edges, nil
}

// findCycle returns a cycle of the directed graph as a vertex path that starts
// and ends at the same vertex, or nil when the graph is acyclic. It is an
// iterative depth-first search (no recursion: a job may have many vertices),
// O(vertices + edges).
func findCycle(n int, edges []jobEdge) []int {
	outAt := make([]int, n+1) // vertex v's successors are out[outAt[v]:outAt[v+1]]
	for _, e := range edges {
		outAt[e.from+1]++
	}
	for v := 0; v < n; v++ {
		outAt[v+1] += outAt[v]
	}
	out := make([]int, len(edges))
	fill := append([]int(nil), outAt[:n]...)
	for _, e := range edges {
		out[fill[e.from]] = e.to
		fill[e.from]++
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]uint8, n)
	next := append([]int(nil), outAt[:n]...) // the next successor to visit, per vertex
	var path []int
	for root := 0; root < n; root++ {
		if state[root] != unvisited {
			continue
		}
		path = append(path[:0], root)
		state[root] = onPath
		for len(path) > 0 {
			v := path[len(path)-1]
			if next[v] == outAt[v+1] {
				state[v] = done
				path = path[:len(path)-1]
				continue
			}
			w := out[next[v]]
			next[v]++
			switch state[w] {
			case onPath:
				k := len(path) - 1
				for path[k] != w {
					k--
				}
				return append(append([]int(nil), path[k:]...), w)
			case unvisited:
				state[w] = onPath
				path = append(path, w)
			}
		}
	}
	return nil
}

// pipelinedComponents joins the subtasks that pipelined edges connect (R3) and
// returns the union-find over subtasks. It costs O(vertices + edges +
// subtasks) for all_to_all edges and O(S + T) per pointwise edge between two
// vertices neither of which is whole:
//
// A vertex is whole when all its subtasks are in one region: its parallelism
// is 1, an all_to_all pipelined edge touches it (every upstream subtask meets
// every downstream one), or a pointwise pipelined edge joins it to a whole
// vertex (a pointwise edge gives every subtask on either side a partner on the
// other). Whole vertices are found at vertex level, then each is joined to its
// first subtask once, so an all_to_all edge costs O(1), never O(S·T) or O(S+T)
// per edge (R2: 200 all_to_all edges between two vertices of 2^23 subtasks cost
// one pass over the subtasks).
func (t *Topology) pipelinedComponents(edges []jobEdge, total int) *unionFind {
	n := len(t.vertices)
	whole := make([]bool, n)
	var queue []int
	mark := func(v int) {
		if !whole[v] {
			whole[v] = true
			queue = append(queue, v)
		}
	}
	adjAt := make([]int, n+1) // pointwise pipelined neighbours, both directions
	for v, vx := range t.vertices {
		if vx.Parallelism == 1 {
			mark(v)
		}
	}
	for _, e := range edges {
		if e.exchange != Pipelined {
			continue
		}
		if e.pattern == AllToAll {
			mark(e.from)
			mark(e.to)
			continue
		}
		adjAt[e.from+1]++
		adjAt[e.to+1]++
	}
	for v := 0; v < n; v++ {
		adjAt[v+1] += adjAt[v]
	}
	adj := make([]int, adjAt[n])
	fill := append([]int(nil), adjAt[:n]...)
	for _, e := range edges {
		if e.exchange == Pipelined && e.pattern == Pointwise {
			adj[fill[e.from]], adj[fill[e.to]] = e.to, e.from
			fill[e.from]++
			fill[e.to]++
		}
	}
	for len(queue) > 0 {
		v := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, w := range adj[adjAt[v]:adjAt[v+1]] {
			mark(w)
		}
	}
	uf := newUnionFind(total)
	for v, vx := range t.vertices {
		if whole[v] {
			for i := 1; i < vx.Parallelism; i++ {
				uf.union(int32(vx.First), int32(vx.First)+int32(i))
			}
		}
	}
	for _, e := range edges {
		if e.exchange != Pipelined {
			continue
		}
		up, down := t.vertices[e.from], t.vertices[e.to]
		if whole[e.from] || whole[e.to] { // then both are whole: one region
			uf.union(int32(up.First), int32(down.First))
			continue
		}
		connect(up, down, e.pattern, func(a, b TaskID) { uf.union(int32(a), int32(b)) })
	}
	return uf
}

// checkBlockingEdges applies R4: a blocking or hybrid edge that joins subtasks
// of two different regions makes the job not embarrassingly parallel; the
// first such pair is named. An edge between two vertices that each lie in one
// region costs O(1); otherwise the walk stops at the first crossing pair.
func (t *Topology) checkBlockingEdges(edges []jobEdge) {
	single := make([]int32, len(t.vertices)) // the vertex's only region, or -1
	for v, vx := range t.vertices {
		single[v] = t.regionOf[vx.First]
		for i := 1; i < vx.Parallelism; i++ {
			if t.regionOf[vx.First+TaskID(i)] != single[v] {
				single[v] = -1
				break
			}
		}
	}
	for _, e := range edges {
		if e.exchange == Pipelined {
			continue
		}
		if single[e.from] >= 0 && single[e.from] == single[e.to] {
			continue // every pair the edge joins lies in that one region
		}
		crossing := false
		connect(t.vertices[e.from], t.vertices[e.to], e.pattern, func(a, b TaskID) {
			if !crossing && t.regionOf[a] != t.regionOf[b] {
				crossing = true
				t.regional = false
				t.whyNot = fmt.Sprintf("a blocking or hybrid edge joins %s (region r%d) and %s (region r%d): "+
					"the job is not embarrassingly parallel (R4)", t.TaskName(a), t.regionOf[a],
					t.TaskName(b), t.regionOf[b])
			}
		})
		if crossing {
			return
		}
	}
}
