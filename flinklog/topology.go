package flinklog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Edge assumptions (Options.Edges). A JobManager log names vertices and their
// parallelism but never the edges between them, and the edges decide the
// pipelined regions (SEMANTICS R3).
const (
	// EdgesAuto: one vertex has no edges (a fully chained job: every subtask is
	// a region); several vertices are chained in the order the log names them
	// with all-to-all exchanges, because Flink chains forward edges, so vertices
	// it kept apart are usually joined by a keyBy or rebalance.
	EdgesAuto = "auto"
	// EdgesAllToAll joins consecutive vertices all-to-all: one region.
	EdgesAllToAll = "all_to_all"
	// EdgesForward joins consecutive vertices pointwise (forward, rescale).
	EdgesForward = "forward"
	// EdgesNone adds no edge: every subtask is its own region.
	EdgesNone = "none"
)

// Vertex is a vertex of the imported job.
type Vertex struct {
	ID          string `json:"id"`   // the history's vertex id
	Name        string `json:"name"` // Flink's task name
	Parallelism int    `json:"parallelism"`
	From        string `json:"from"` // the evidence: task transitions, exception text
	Line        int    `json:"line"` // first line naming it
}

// Topology is the imported job and how sure the import is of it.
type Topology struct {
	Vertices []Vertex `json:"vertices"`
	Subtasks int      `json:"subtasks"`
	Regions  int      `json:"regions"`
	// Known is "complete" (the log deploys the job, or names one fully chained
	// Source vertex), "partial" (vertices named only in exception text),
	// "unknown" (no task name with a parallelism: one stand-in vertex "job") or
	// "assumed" (no task name, and -assume-regions gave the regions).
	Known                  string   `json:"known"`
	Edges                  string   `json:"edges"` // the assumption, in words
	EmbarrassinglyParallel bool     `json:"embarrassingly_parallel"`
	WhyNot                 string   `json:"why_not,omitempty"`
	Evidence               []string `json:"evidence,omitempty"` // region sizes the log printed, and whether they agree
}

// unknownVertex stands for the whole job when the log names no subtask.
const unknownVertex = "job"

// collectVertices gathers the vertices the log names for the job in job order
// as well as a log shows it: sources first (Flink names them "Source: ..."),
// then in the order Flink deploys them (topological), then in the order the
// log first names them. Region numbers (R3) follow this order.
func collectVertices(es []*entry, pp *prepass) (vs []Vertex, deployed bool) {
	idx := map[string]int{}
	deployLine := map[string]int{}
	add := func(t taskRef, from string, line int) {
		if !t.valid() {
			return
		}
		if i, ok := idx[t.name]; ok {
			// Rescaling changes the parallelism: keep the largest, so every
			// subtask index seen stays valid.
			vs[i].Parallelism = max(vs[i].Parallelism, t.parallelism)
			if from == "task transitions" {
				vs[i].From = from
			}
			return
		}
		idx[t.name] = len(vs)
		vs = append(vs, Vertex{Name: t.name, Parallelism: t.parallelism, From: from, Line: line})
	}
	for _, e := range es {
		switch e.kind {
		case kTaskState, kDeploy:
			deployed = true
			add(e.task, "task transitions", e.rec.line)
			if _, ok := deployLine[e.task.name]; !ok && (e.kind == kDeploy || e.from == "CREATED") {
				deployLine[e.task.name] = e.rec.line
			}
		case kTriggerFailed:
			if e.hasTask {
				add(e.task, "trigger failure text", e.rec.line)
			}
		case kDecline, kDeclined, kDiscard, kFailed:
			if t, ok := findTask(e.rec.text()); ok {
				add(t, "exception text", e.rec.line)
			}
		}
	}
	addSources(es, &vs)
	key := func(v Vertex) (int, int, int) {
		src := 1
		if strings.HasPrefix(v.Name, "Source") {
			src = 0
		}
		dl, ok := deployLine[v.Name]
		if !ok {
			dl = 1 << 30
		}
		return src, dl, v.Line
	}
	sort.SliceStable(vs, func(a, b int) bool {
		a1, a2, a3 := key(vs[a])
		b1, b2, b3 := key(vs[b])
		if a1 != b1 {
			return a1 < b1
		}
		if a2 != b2 {
			return a2 < b2
		}
		return a3 < b3
	})
	return vs, deployed
}

// fromCoordinator marks a vertex only the SourceCoordinator's lines name.
const fromCoordinator = "source coordinator lines"

// addSources adds the sources the SourceCoordinator names ("Marking checkpoint
// N as completed for source S") that no task name starts with: a job with
// several sources where only one shows task transitions (say it finished)
// still has the others, and must not end when that one does. Their
// parallelism is not printed: at least the highest subtask a "Recovering
// subtask i" line names, else 1.
func addSources(es []*entry, vs *[]Vertex) {
	named := func(src string) bool {
		for _, v := range *vs {
			for _, op := range strings.Split(v.Name, " -> ") {
				if operatorName(op) == operatorName(src) {
					return true
				}
			}
		}
		return false
	}
	idx := map[string]int{}
	for _, e := range es {
		switch e.kind {
		case kSourceCompleted, kSourceAborted, kSourceReset, kSourceRestore:
		default:
			continue
		}
		src := e.detail
		p := 1
		if e.kind == kSourceReset {
			p = e.task.index + 1
		}
		if i, ok := idx[src]; ok {
			(*vs)[i].Parallelism = max((*vs)[i].Parallelism, p)
			continue
		}
		if named(src) {
			continue
		}
		idx[src] = len(*vs)
		*vs = append(*vs, Vertex{Name: src, Parallelism: p, From: fromCoordinator + " (parallelism not shown)", Line: e.rec.line})
	}
}

// reOperatorIndex is the operator index Flink 1.15+ may put around an
// operator's name in a task name ("[1]:Source: kafka", "Source: kafka[1]").
var reOperatorIndex = regexp.MustCompile(`^\[\d+\]:|\[\d+\]$`)

// operatorName is an operator's name without the index decoration.
func operatorName(s string) string {
	return strings.TrimSpace(reOperatorIndex.ReplaceAllString(strings.TrimSpace(s), ""))
}

// buildTopology turns the vertices into a job spec under the edge assumption.
func buildTopology(vs []Vertex, deployed bool, pp *prepass, opt Options) (fsm.JobSpec, Topology, error) {
	top := Topology{Known: "complete"}
	switch {
	case len(vs) == 0:
		top.Known = "unknown"
	case !deployed && !(len(vs) == 1 && strings.HasPrefix(vs[0].Name, "Source")):
		top.Known = "partial"
	}
	for _, v := range vs {
		if strings.HasPrefix(v.From, fromCoordinator) {
			top.Known = "partial" // a source whose parallelism the log does not print
		}
	}
	edges := opt.Edges
	if edges == "" {
		edges = EdgesAuto
	}
	if opt.AssumeRegions > 0 {
		if opt.AssumeRegions > maxParallelism {
			return fsm.JobSpec{}, top, fmt.Errorf("-assume-regions %d: at most %d", opt.AssumeRegions, maxParallelism)
		}
		if len(vs) == 0 {
			vs = []Vertex{{Name: unknownVertex, Parallelism: opt.AssumeRegions, From: "assumed (-assume-regions)"}}
		}
		for _, v := range vs {
			if v.Parallelism != opt.AssumeRegions {
				return fsm.JobSpec{}, top, fmt.Errorf("-assume-regions %d: vertex %q has parallelism %d; N independent regions need every vertex at parallelism N (use -edges instead)",
					opt.AssumeRegions, v.Name, v.Parallelism)
			}
		}
		edges = EdgesForward
		if top.Known == "unknown" {
			top.Known = "assumed"
		}
		top.Edges = fmt.Sprintf("assumed (-assume-regions %d): %d independent regions, consecutive vertices joined forward", opt.AssumeRegions, opt.AssumeRegions)
	}
	if len(vs) == 0 {
		vs = []Vertex{{Name: unknownVertex, Parallelism: 1, From: "stand-in: the log names no subtask"}}
	}
	used := map[string]int{}
	for i := range vs {
		id := vertexID(vs[i].Name)
		if n := used[id]; n > 0 {
			used[id] = n + 1
			id = fmt.Sprintf("%s~%d", id, n+1)
		} else {
			used[id] = 1
		}
		vs[i].ID = id
	}
	var spec fsm.JobSpec
	for _, v := range vs {
		spec.Vertices = append(spec.Vertices, fsm.VertexSpec{ID: v.ID, Parallelism: v.Parallelism})
	}
	// Sources come first (collectVertices) and are roots: each joins the
	// first other vertex, and the others are chained in order. Sources with no
	// other vertex (fully chained pipelines) stay apart.
	chain := func(p func(a, b Vertex) fsm.Pattern) {
		firstOther := len(vs)
		for i, v := range vs {
			if !strings.HasPrefix(v.Name, "Source") {
				firstOther = i
				break
			}
		}
		if firstOther == 0 {
			firstOther = 1 // no source named: chain them all
		}
		for i := 1; i < len(vs); i++ {
			from := i - 1
			switch {
			case i < firstOther:
				continue // another source: a root
			case i == firstOther:
				for s := 0; s < firstOther-1; s++ {
					spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: vs[s].ID, To: vs[i].ID, Pattern: p(vs[s], vs[i]), Exchange: fsm.Pipelined})
				}
			}
			spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: vs[from].ID, To: vs[i].ID, Pattern: p(vs[from], vs[i]), Exchange: fsm.Pipelined})
		}
	}
	switch edges {
	case EdgesAuto, EdgesAllToAll:
		chain(func(Vertex, Vertex) fsm.Pattern { return fsm.AllToAll })
		if top.Edges == "" {
			switch {
			case len(vs) == 1 && top.Known == "unknown":
				top.Edges = "none: one stand-in vertex for the whole job (the log names no subtask)"
			case len(vs) == 1:
				top.Edges = "none: one fully chained vertex, every subtask is its own pipelined region"
			case edges == EdgesAuto:
				top.Edges = "assumed: sources are roots joined to the first other vertex, the others chained in the order the log names them, all joined all-to-all (Flink chains forward edges, so separate vertices are usually joined by keyBy/rebalance)"
			default:
				top.Edges = "given (-edges all_to_all): consecutive vertices joined all-to-all"
			}
		}
	case EdgesForward:
		chain(func(Vertex, Vertex) fsm.Pattern { return fsm.Pointwise })
		if top.Edges == "" {
			top.Edges = "given (-edges forward): consecutive vertices joined pointwise"
		}
	case EdgesNone:
		top.Edges = "given (-edges none): no edges, every subtask is its own region"
	default:
		return fsm.JobSpec{}, top, fmt.Errorf("-edges %q: want auto, all_to_all, forward or none", edges)
	}
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		return spec, top, err
	}
	top.Vertices = vs
	top.Subtasks = topo.NumSubtasks()
	top.Regions = topo.NumRegions()
	top.EmbarrassinglyParallel, top.WhyNot = topo.RegionalCapable()
	for _, r := range pp.restarts {
		top.Evidence = append(top.Evidence, restartAgreement(r, topo))
	}
	return spec, top, nil
}

// restartAgreement compares a logged region size with the assumed topology.
func restartAgreement(r restartEvidence, topo *fsm.Topology) string {
	sizes := map[int]bool{}
	for i := 0; i < topo.NumRegions(); i++ {
		sizes[len(topo.RegionTasks(i))] = true
	}
	switch {
	case r.tasks == topo.NumSubtasks() && topo.NumRegions() == 1:
		return fmt.Sprintf("line %d: Flink restarted %d tasks, the whole job: agrees with one region", r.e.rec.line, r.tasks)
	case sizes[r.tasks]:
		return fmt.Sprintf("line %d: Flink restarted %d tasks: agrees with a region of the assumed topology", r.e.rec.line, r.tasks)
	case r.tasks == topo.NumSubtasks():
		return fmt.Sprintf("line %d: Flink restarted all %d tasks, but the assumed topology has %d regions: the job is probably one region (-edges all_to_all)",
			r.e.rec.line, r.tasks, topo.NumRegions())
	}
	return fmt.Sprintf("line %d: Flink restarted %d of %d tasks; no region of the assumed topology has that size: state the topology (-edges, -assume-regions)",
		r.e.rec.line, r.tasks, topo.NumSubtasks())
}
