package invariants

// Property tests of the allocation-free rewrites of issue 17 against the
// straightforward code they replaced, kept here as references.

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// refCheckFallbacks is R23's fallback check as first written (maps built per
// persist from the topology): the reference the allocation-free
// checkFallbacks must agree with, message for message.
func refCheckFallbacks(c *Checker, persist fsm.Effect, got []fsm.Effect) {
	want := map[int][]fsm.RegionRef{}
	for _, ref := range persist.Refs {
		seen := map[int]bool{}
		for _, t := range c.topo.RegionTasks(ref.Region) {
			v := c.topo.VertexOf(t)
			if seen[v] || c.topo.Vertices()[v].Coordinator == fsm.CoordinatorNone {
				continue
			}
			seen[v] = true
			want[v] = append(want[v], ref)
		}
	}
	have := map[int]bool{}
	for _, f := range got {
		if have[f.Vertex] {
			c.fail(RuleCompletionOrder, "checkpoint %d: two coordinator_fallback effects for vertex %d", persist.Checkpoint, f.Vertex)
		}
		have[f.Vertex] = true
		if !slices.Equal(f.Refs, want[f.Vertex]) {
			c.fail(RuleCompletionOrder, "checkpoint %d: coordinator_fallback of vertex %d names %v, its failed regions are %v",
				persist.Checkpoint, f.Vertex, f.Refs, want[f.Vertex])
		}
	}
	for v := range c.topo.Vertices() {
		if _, needed := want[v]; needed && !have[v] {
			c.fail(RuleCompletionOrder, "checkpoint %d persisted without the coordinator_fallback of vertex %d (regions %v)",
				persist.Checkpoint, v, want[v])
		}
	}
}

// TestCheckFallbacksMatchesReference: on random persists and fallback effects
// (right, missing, doubled, naming too many, too few or other regions, of
// vertices without a coordinator, of other checkpoints) over a job whose
// regions hold several vertices with and without coordinators, checkFallbacks
// reports exactly what the reference reports, in the same order.
func TestCheckFallbacksMatchesReference(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{
		Vertices: []fsm.VertexSpec{
			{ID: "a", Parallelism: 4, Coordinator: fsm.CoordinatorFallback},
			{ID: "b", Parallelism: 2},
			{ID: "c", Parallelism: 4, Coordinator: fsm.CoordinatorPlain},
			{ID: "d", Parallelism: 3, Coordinator: fsm.CoordinatorFallback},
		},
		Edges: []fsm.EdgeSpec{{From: "a", To: "b"}, {From: "b", To: "c"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if topo.NumRegions() != 5 {
		t.Fatalf("%d regions, want 5", topo.NumRegions())
	}
	cfg := fsm.DefaultConfig()
	rng := rand.New(rand.NewSource(17))
	const id, cases = 9, 5000
	failing := 0
	for n := 0; n < cases; n++ {
		var refs []fsm.RegionRef
		for r := 0; r < topo.NumRegions(); r++ {
			if rng.Intn(2) == 0 {
				refs = append(refs, fsm.RegionRef{Region: r, Checkpoint: int64(1 + rng.Intn(3))})
			}
		}
		persist := fsm.Effect{Type: fsm.EffPersist, Checkpoint: id, Refs: refs}
		var prior []fsm.Effect
		for v := range topo.Vertices() {
			var want []fsm.RegionRef
			for _, ref := range refs {
				if slices.ContainsFunc(topo.RegionTasks(ref.Region), func(t fsm.TaskID) bool {
					return topo.VertexOf(t) == v && topo.Vertices()[v].Coordinator != fsm.CoordinatorNone
				}) {
					want = append(want, ref)
				}
			}
			count := 0 // mostly right: one fallback where one is needed
			switch x := rng.Intn(40); {
			case want != nil && x > 1, want == nil && x == 0:
				count = 1
			case x == 1:
				count = 2
			}
			for ; count > 0; count-- {
				f := fsm.Effect{Type: fsm.EffCoordinatorFallback, Checkpoint: id, Vertex: v, Refs: slices.Clone(want)}
				switch rng.Intn(40) {
				case 0:
					if len(f.Refs) > 0 {
						f.Refs = f.Refs[1:]
					}
				case 1:
					f.Refs = append(f.Refs, fsm.RegionRef{Region: rng.Intn(5), Checkpoint: 2})
				case 2:
					if len(f.Refs) > 0 {
						f.Refs[0].Checkpoint++
					}
				case 3:
					slices.Reverse(f.Refs)
				case 4:
					f.Checkpoint = id - 1
				}
				prior = append(prior, f)
				if rng.Intn(3) == 0 {
					prior = append(prior, fsm.Effect{Type: fsm.EffAbort, Checkpoint: id - 1})
				}
			}
		}
		rng.Shuffle(len(prior), func(i, j int) { prior[i], prior[j] = prior[j], prior[i] })

		got, want := New(topo, cfg), New(topo, cfg)
		got.checkFallbacks(&persist, prior)
		var mine []fsm.Effect
		for _, f := range prior {
			if f.Type == fsm.EffCoordinatorFallback && f.Checkpoint == id {
				mine = append(mine, f)
			}
		}
		refCheckFallbacks(want, persist, mine)
		if !slices.Equal(got.out, want.out) {
			t.Fatalf("persist %v after %v:\ngot  %v\nwant %v", persist.Refs, prior, got.out, want.out)
		}
		if len(want.out) > 0 {
			failing++
		}
	}
	if failing < cases/10 || failing > cases*9/10 {
		t.Fatalf("%d of %d cases fail the check: the generator does not exercise both sides", failing, cases)
	}
	t.Logf("%d of %d cases fail the check", failing, cases)
}

// TestNotifyMatchesReference: onNotifyComplete, which merges a notification's
// subtasks into the record's set once, reports and remembers exactly what
// adding them one by one does (the first way it was written), on random
// notifications — ranges out of order and overlapping included, as a broken
// core could send — over random sets already notified and random health.
func TestNotifyMatchesReference(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 12}}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(17))
	cfg := fsm.DefaultConfig()
	const id, cases = 5, 5000
	twice := 0
	for n := 0; n < cases; n++ {
		healthy := make([]bool, topo.NumRegions())
		for r := range healthy {
			healthy[r] = rng.Intn(8) != 0
		}
		var old []fsm.TaskID
		for task := fsm.TaskID(0); task < 12; task++ {
			if rng.Intn(4) == 0 {
				old = append(old, task)
			}
		}
		var tasks fsm.TaskSet
		for k := rng.Intn(4); k > 0; k-- {
			lo := fsm.TaskID(rng.Intn(12))
			tasks = append(tasks, fsm.TaskRange{Lo: lo, Hi: lo + fsm.TaskID(rng.Intn(int(12-lo)+1))})
		}
		e := fsm.Effect{Type: fsm.EffNotifyComplete, Checkpoint: id, Tasks: tasks}
		oldCopy := slices.Clone(old)

		got := New(topo, cfg)
		r := got.recFor(id)
		r.flags = fCompleted | fNotified
		got.setSets(r, healthy, old, nil)
		got.onNotifyComplete(&e)

		// The reference: one subtask at a time, each added to a copy.
		var want []Violation
		set := slices.Clone(old)
		tasks.All(func(task fsm.TaskID) bool {
			i, ok := slices.BinarySearch(set, task)
			if ok {
				want = append(want, Violation{NotifySafety, "subtask " + topo.TaskName(task) + " notified twice of checkpoint 5"})
			} else {
				set = slices.Insert(set, i, task)
			}
			if !healthy[topo.RegionOf(task)] {
				want = append(want, Violation{NotifySafety, "subtask " + topo.TaskName(task) +
					" notified of checkpoint 5 though its region uses older state"})
			}
			return true
		})
		if !slices.Equal(got.out, want) {
			t.Fatalf("notify %v after %v:\ngot  %v\nwant %v", tasks, old, got.out, want)
		}
		if rec := got.rec(id); !slices.Equal(rec.notified(), set) || rec.flags&fNotified == 0 {
			t.Fatalf("notify %v after %v: notified %v, want %v", tasks, old, rec.notified(), set)
		}
		if !slices.Equal(oldCopy, old) {
			t.Fatal("the old set was written in place")
		}
		if slices.ContainsFunc(want, func(v Violation) bool { return strings.Contains(v.Detail, "twice") }) {
			twice++
		}
	}
	if twice < cases/10 || twice > cases*9/10 {
		t.Fatalf("%d of %d cases notify a subtask twice: the generator does not exercise both sides", twice, cases)
	}
}
