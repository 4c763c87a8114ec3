package fsm

import (
	"fmt"
	"strconv"
	"strings"
)

// CoordinatorKind says whether a vertex has an operator coordinator and whether
// that coordinator supports region fallback (R1, R22e).
type CoordinatorKind uint8

// Coordinator kinds, as spelled in a history header.
const (
	CoordinatorNone     CoordinatorKind = iota // no operator coordinator
	CoordinatorPlain                           // a coordinator without region fallback support
	CoordinatorFallback                        // a coordinator that supports region fallback
)

// String returns the history spelling of the kind ("" for none).
func (k CoordinatorKind) String() string {
	switch k {
	case CoordinatorPlain:
		return "plain"
	case CoordinatorFallback:
		return "fallback"
	}
	return ""
}

// Pattern is an edge's distribution pattern (R2).
type Pattern uint8

// Distribution patterns.
const (
	Pointwise Pattern = iota
	AllToAll
)

// String returns the history spelling of the pattern.
func (p Pattern) String() string {
	if p == AllToAll {
		return "all_to_all"
	}
	return "pointwise"
}

// Exchange is an edge's data exchange type (R2).
type Exchange uint8

// Exchange types.
const (
	Pipelined Exchange = iota
	Blocking
	Hybrid
)

// String returns the history spelling of the exchange.
func (x Exchange) String() string {
	switch x {
	case Blocking:
		return "blocking"
	case Hybrid:
		return "hybrid"
	}
	return "pipelined"
}

// VertexSpec describes one vertex (operator) of a job (R1).
type VertexSpec struct {
	ID          string
	Parallelism int
	Coordinator CoordinatorKind
}

// EdgeSpec describes one edge between two vertices (R2).
type EdgeSpec struct {
	From, To string
	Pattern  Pattern
	Exchange Exchange
}

// JobSpec is a job as a history header gives it: vertices in job order and edges.
type JobSpec struct {
	Vertices []VertexSpec
	Edges    []EdgeSpec
}

// TaskID is a subtask interned to an integer: vertices in job order, then subtask
// index. It indexes every per-subtask table of the core, so an ack touches O(1) memory.
type TaskID int32

// MaxSubtasks bounds a job's size: TaskID and region numbers fit in int32, and a
// tiny history header cannot make a reader allocate gigabytes (2^24 subtasks cost
// about 100 MB of core state).
const MaxSubtasks = 1 << 24

// Vertex is a vertex of a built Topology.
type Vertex struct {
	ID          string
	Parallelism int
	Coordinator CoordinatorKind
	// First is the TaskID of subtask 0 of this vertex.
	First TaskID
	// Source says the vertex has no input edge (R1).
	Source bool
}

// Topology is an immutable, validated job: interned subtasks and its pipelined
// regions (R1–R4). States cloned from one another share it.
type Topology struct {
	vertices []Vertex
	byID     map[string]int
	regionOf []int32  // TaskID -> region
	regionAt []int32  // region r's subtasks are members[regionAt[r]:regionAt[r+1]]
	members  []TaskID // subtasks grouped by region, each group in TaskID order
	fallback []bool   // region -> every coordinator touching it supports fallback (R22e)
	coAt     []int32  // region r's coordinator vertices are cos[coAt[r]:coAt[r+1]]
	cos      []int32  // vertices with a coordinator that have a subtask in the region, in job order
	sources  []TaskID
	regional bool   // R4 holds
	whyNot   string // why R4 does not hold
}

// NewTopology validates a job and builds its regions. Errors name the vertex or
// edge and the rule.
func NewTopology(spec JobSpec) (*Topology, error) {
	if len(spec.Vertices) == 0 {
		return nil, fmt.Errorf("job: no vertices (R1)")
	}
	t := &Topology{byID: make(map[string]int, len(spec.Vertices))}
	total := 0
	for i, v := range spec.Vertices {
		switch {
		case v.ID == "":
			return nil, fmt.Errorf("job: vertices[%d]: empty id (R1)", i)
		case strings.ContainsAny(v.ID, "/ \t\n"):
			return nil, fmt.Errorf("job: vertex %q: id may not contain '/' or spaces (R1)", v.ID)
		case v.Parallelism < 1:
			return nil, fmt.Errorf("job: vertex %q: parallelism %d, must be >= 1 (R1)", v.ID, v.Parallelism)
		}
		if _, dup := t.byID[v.ID]; dup {
			return nil, fmt.Errorf("job: vertex %q: duplicate id (R1)", v.ID)
		}
		if total+v.Parallelism > MaxSubtasks {
			return nil, fmt.Errorf("job: vertex %q: more than %d subtasks in the job (R1)", v.ID, MaxSubtasks)
		}
		t.byID[v.ID] = i
		t.vertices = append(t.vertices, Vertex{ID: v.ID, Parallelism: v.Parallelism,
			Coordinator: v.Coordinator, First: TaskID(total), Source: true})
		total += v.Parallelism
	}
	edges, err := t.resolveEdges(spec.Edges)
	if err != nil {
		return nil, err
	}
	uf := t.pipelinedComponents(edges, total)
	// R3: number regions in the order of their first subtask.
	// Flat arrays rather than a slice per region: a job of a million one-subtask
	// regions must not cost a million allocations.
	t.regionOf = make([]int32, total)
	sizes := make([]int32, 0, total) // at most one region per subtask; no regrowth
	for id := 0; id < total; id++ {
		root := uf.find(int32(id))
		if root == int32(id) {
			t.regionOf[id] = int32(len(sizes))
			sizes = append(sizes, 0)
		} else {
			t.regionOf[id] = t.regionOf[root] // root < id: union keeps the smaller index as root
		}
		sizes[t.regionOf[id]]++
	}
	t.regionAt = make([]int32, len(sizes)+1)
	for r, n := range sizes {
		t.regionAt[r+1] = t.regionAt[r] + n
	}
	t.members = make([]TaskID, total)
	next := append([]int32(nil), t.regionAt[:len(sizes)]...)
	for id := 0; id < total; id++ {
		r := t.regionOf[id]
		t.members[next[r]] = TaskID(id)
		next[r]++
	}
	t.buildCoordinatorTables()
	nSources := 0
	for _, v := range t.vertices {
		if v.Source {
			nSources += v.Parallelism
		}
	}
	t.sources = make([]TaskID, 0, nSources)
	for _, v := range t.vertices {
		if v.Source {
			for i := 0; i < v.Parallelism; i++ {
				t.sources = append(t.sources, v.First+TaskID(i))
			}
		}
	}
	// R4: embarrassingly parallel means no blocking/hybrid edge crosses regions.
	t.regional = true
	t.checkBlockingEdges(edges)
	if t.regional && t.NumRegions() < 2 {
		t.regional = false
		t.whyNot = "the job has a single pipelined region (R4)"
	}
	return t, nil
}

func (t *Topology) buildCoordinatorTables() {
	t.fallback = make([]bool, t.NumRegions())
	t.coAt = make([]int32, t.NumRegions()+1)
	for r := 0; r < t.NumRegions(); r++ {
		t.fallback[r] = true
		last := -1
		for _, id := range t.RegionTasks(r) { // in TaskID order: a vertex's subtasks are contiguous
			vi := t.vertexOf(id)
			if vi == last || t.vertices[vi].Coordinator == CoordinatorNone {
				continue
			}
			last = vi
			t.cos = append(t.cos, int32(vi))
			if t.vertices[vi].Coordinator != CoordinatorFallback {
				t.fallback[r] = false
			}
		}
		t.coAt[r+1] = int32(len(t.cos))
	}
}

// connect calls join for every pair of subtasks an edge connects (R2, Flink's
// EdgeManagerBuildUtil.connectPointwise for pointwise edges).
func connect(up, down Vertex, p Pattern, join func(a, b TaskID)) {
	s, t := up.Parallelism, down.Parallelism
	if p == AllToAll {
		// Every upstream subtask meets every downstream one. For connectivity and for
		// "some pair lies in two regions" a spanning set of pairs is enough:
		// (up_i, down_0) and (up_0, down_j) keep the cost at O(S+T), not O(S·T).
		for i := 0; i < s; i++ {
			join(up.First+TaskID(i), down.First)
		}
		for j := 1; j < t; j++ {
			join(up.First, down.First+TaskID(j))
		}
		return
	}
	switch {
	case s == t:
		for i := 0; i < s; i++ {
			join(up.First+TaskID(i), down.First+TaskID(i))
		}
	case s > t:
		for j := 0; j < t; j++ {
			for i := j * s / t; i < (j+1)*s/t; i++ {
				join(up.First+TaskID(i), down.First+TaskID(j))
			}
		}
	default:
		for i := 0; i < s; i++ {
			lo, hi := ceilDiv(i*t, s), ceilDiv((i+1)*t, s)
			for j := lo; j < hi; j++ {
				join(up.First+TaskID(i), down.First+TaskID(j))
			}
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// NumSubtasks is the number of subtasks of the job.
func (t *Topology) NumSubtasks() int { return len(t.regionOf) }

// NumRegions is the number of pipelined regions (R3).
func (t *Topology) NumRegions() int { return len(t.regionAt) - 1 }

// Vertices returns the vertices in job order. The slice must not be modified.
func (t *Topology) Vertices() []Vertex { return t.vertices }

// RegionOf returns the region of a subtask.
func (t *Topology) RegionOf(id TaskID) int { return int(t.regionOf[id]) }

// RegionTasks returns the subtasks of a region in TaskID order. The slice must not be modified.
func (t *Topology) RegionTasks(r int) []TaskID { return t.members[t.regionAt[r]:t.regionAt[r+1]] }

// RegionSupportsFallback says whether every coordinator of a vertex with a
// subtask in region r supports region fallback (R22e).
func (t *Topology) RegionSupportsFallback(r int) bool { return t.fallback[r] }

// RegionCoordinators returns the vertices (indexes) with a coordinator that have
// a subtask in region r, in job order.
func (t *Topology) RegionCoordinators(r int) []int32 { return t.cos[t.coAt[r]:t.coAt[r+1]] }

// Sources returns the subtasks of source vertices.
func (t *Topology) Sources() []TaskID { return t.sources }

// RegionalCapable reports whether R4 holds; if not, the reason.
func (t *Topology) RegionalCapable() (bool, string) { return t.regional, t.whyNot }

// ValidTask reports whether id names a subtask of the job.
func (t *Topology) ValidTask(id TaskID) bool { return id >= 0 && int(id) < len(t.regionOf) }

// vertexOf returns the vertex index of a subtask by binary search over First.
func (t *Topology) vertexOf(id TaskID) int {
	lo, hi := 0, len(t.vertices)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if t.vertices[mid].First <= id {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// VertexOf returns the vertex index of a subtask.
func (t *Topology) VertexOf(id TaskID) int { return t.vertexOf(id) }

// VertexIndex returns the index of a vertex by id.
func (t *Topology) VertexIndex(id string) (int, bool) {
	i, ok := t.byID[id]
	return i, ok
}

// TaskName renders a subtask as "vertex/index".
func (t *Topology) TaskName(id TaskID) string {
	v := t.vertices[t.vertexOf(id)]
	return v.ID + "/" + strconv.Itoa(int(id-v.First))
}

// ParseTask interns a subtask name "vertex/index"; the error names the problem.
func (t *Topology) ParseTask(name string) (TaskID, error) {
	slash := strings.LastIndexByte(name, '/')
	if slash < 0 {
		return -1, fmt.Errorf("task %q: want vertex/index", name)
	}
	vi, ok := t.byID[name[:slash]]
	if !ok {
		return -1, fmt.Errorf("task %q: the job has no vertex %q", name, name[:slash])
	}
	idx, err := strconv.Atoi(name[slash+1:])
	if err != nil || idx < 0 || strconv.Itoa(idx) != name[slash+1:] {
		return -1, fmt.Errorf("task %q: index %q is not a non-negative integer", name, name[slash+1:])
	}
	v := t.vertices[vi]
	if idx >= v.Parallelism {
		return -1, fmt.Errorf("task %q: vertex %q has parallelism %d", name, v.ID, v.Parallelism)
	}
	return v.First + TaskID(idx), nil
}

// RegionName renders a region as "rN" (R3).
func RegionName(r int) string { return "r" + strconv.Itoa(r) }

// ParseRegion parses "rN" for a topology with n regions.
func ParseRegion(name string, n int) (int, error) {
	if len(name) < 2 || name[0] != 'r' {
		return -1, fmt.Errorf("region %q: want rN", name)
	}
	r, err := strconv.Atoi(name[1:])
	if err != nil || r < 0 || strconv.Itoa(r) != name[1:] {
		return -1, fmt.Errorf("region %q: want rN", name)
	}
	if r >= n {
		return -1, fmt.Errorf("region %q: the job has %d regions (R3)", name, n)
	}
	return r, nil
}

type unionFind struct{ parent []int32 }

func newUnionFind(n int) *unionFind {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	return &unionFind{p}
}

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if ra < rb {
		u.parent[rb] = ra
	} else {
		u.parent[ra] = rb
	}
}
