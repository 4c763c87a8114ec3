package fsm

import (
	"strings"
	"testing"
)

func mustTopo(t *testing.T, spec JobSpec) *Topology {
	t.Helper()
	topo, err := NewTopology(spec)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func regionsOf(topo *Topology) string {
	var parts []string
	for r := 0; r < topo.NumRegions(); r++ {
		parts = append(parts, RegionName(r)+"="+strings.Join(TaskSetOf(topo.RegionTasks(r)).Names(topo), ","))
	}
	return strings.Join(parts, " ")
}

// TaskSetOf builds a set from ascending ids (test helper).
func TaskSetOf(ids []TaskID) TaskSet {
	var s TaskSet
	for _, id := range ids {
		s = s.add(id)
	}
	return s
}

// TestPointwiseMapping follows Flink's EdgeManagerBuildUtil.connectPointwise (R2)
// and the region numbering of R3.
func TestPointwiseMapping(t *testing.T) {
	cases := []struct {
		up, down int
		want     string
	}{
		{2, 2, "r0=a/0,b/0 r1=a/1,b/1"},
		// S > T: downstream j reads upstream [j*S/T, (j+1)*S/T).
		{4, 2, "r0=a/0-1,b/0 r1=a/2-3,b/1"},
		{3, 2, "r0=a/0,b/0 r1=a/1-2,b/1"},
		// S < T: upstream i feeds downstream [ceil(i*T/S), ceil((i+1)*T/S)).
		{2, 4, "r0=a/0,b/0-1 r1=a/1,b/2-3"},
		{2, 3, "r0=a/0,b/0-1 r1=a/1,b/2"},
	}
	for _, c := range cases {
		topo := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: c.up}, {ID: "b", Parallelism: c.down}},
			Edges: []EdgeSpec{{From: "a", To: "b"}}})
		if got := regionsOf(topo); got != c.want {
			t.Errorf("%d->%d: got %s, want %s", c.up, c.down, got, c.want)
		}
	}
}

func TestRegionsAndEmbarrassinglyParallel(t *testing.T) {
	allToAll := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 3}, {ID: "b", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "a", To: "b", Pattern: AllToAll}}})
	if allToAll.NumRegions() != 1 {
		t.Fatalf("all_to_all pipelined: %d regions, want 1", allToAll.NumRegions())
	}
	if ok, why := allToAll.RegionalCapable(); ok || !strings.Contains(why, "single pipelined region") {
		t.Fatalf("single region: capable=%t why=%q", ok, why)
	}
	blocking := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 2}, {ID: "b", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "a", To: "b", Pattern: AllToAll, Exchange: Blocking}}})
	if ok, why := blocking.RegionalCapable(); ok || !strings.Contains(why, "blocking or hybrid edge") {
		t.Fatalf("cross-region blocking edge: capable=%t why=%q", ok, why)
	}
	if got := regionsOf(blocking); got != "r0=a/0 r1=a/1 r2=b/0 r3=b/1" {
		t.Fatalf("regions %s", got)
	}
	// A hybrid edge inside one region does not cross regions (R4).
	inside := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 2}, {ID: "b", Parallelism: 2}, {ID: "c", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "a", To: "b"}, {From: "b", To: "c"}, {From: "a", To: "c", Exchange: Hybrid}}})
	if ok, why := inside.RegionalCapable(); !ok {
		t.Fatalf("hybrid edge within regions refused: %s", why)
	}
	// Region order follows the first subtask, vertices in job order (R3).
	order := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "x", Parallelism: 1}, {ID: "y", Parallelism: 2}, {ID: "z", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "y", To: "z"}}})
	if got := regionsOf(order); got != "r0=x/0 r1=y/0,z/0 r2=y/1,z/1" {
		t.Fatalf("regions %s", got)
	}
}

func TestJobErrorsNameThePlace(t *testing.T) {
	cases := []struct {
		spec JobSpec
		want string
	}{
		{JobSpec{}, "no vertices"},
		{JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 0}}}, `vertex "a": parallelism 0`},
		{JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 1}, {ID: "a", Parallelism: 1}}}, "duplicate id"},
		{JobSpec{Vertices: []VertexSpec{{ID: "a/b", Parallelism: 1}}}, "may not contain '/'"},
		{JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 1}}, Edges: []EdgeSpec{{From: "a", To: "q"}}}, `edges[0]: unknown vertex "q"`},
		{JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 1}}, Edges: []EdgeSpec{{From: "a", To: "a"}}}, "self-loop"},
	}
	for _, c := range cases {
		if _, err := NewTopology(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.spec, err, c.want)
		}
	}
}

func TestParseTask(t *testing.T) {
	topo := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 3}}})
	if id, err := topo.ParseTask("sink/2"); err != nil || id != 4 || topo.TaskName(id) != "sink/2" {
		t.Fatalf("sink/2 -> %d, %v", id, err)
	}
	for _, bad := range []string{"sink/3", "nope/0", "sink", "sink/-1", "sink/01", "sink/x"} {
		if _, err := topo.ParseTask(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigValidationNamesKeyAndRule(t *testing.T) {
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.IntervalMs = 5 }, "interval_ms = 5"},
		{func(c *Config) { c.TimeoutMs = 9 }, "timeout_ms = 9"},
		{func(c *Config) { c.MinPauseMs = -1 }, "min_pause_ms"},
		{func(c *Config) { c.MaxConcurrent = 0 }, "max_concurrent"},
		{func(c *Config) { c.TolerableFailures = -1 }, "tolerable_failures"},
		{func(c *Config) { c.Retained = 0 }, "retained"},
		{func(c *Config) { c.Regional.MaxFailureRatio = 1.5 }, "regional.max_failure_ratio"},
		{func(c *Config) { c.Regional.MaxConsecutive = -1 }, "regional.max_consecutive"},
		{func(c *Config) { c.Regional.MaxRefAge = -1 }, "regional.max_ref_age"},
		{func(c *Config) { c.MaxTimeoutMs = 100 }, "max_timeout_ms = 100"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mut(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "§2") {
			t.Errorf("error %v, want %q and the rule", err, c.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestTaskSetRanges(t *testing.T) {
	b := newBitset(200)
	for _, id := range []TaskID{0, 1, 2, 63, 64, 65, 130, 199} {
		b.set(id)
	}
	got := b.taskSet()
	want := TaskSet{{0, 3}, {63, 66}, {130, 131}, {199, 200}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got.Len() != 8 || !got.Contains(64) || got.Contains(66) {
		t.Fatalf("Len/Contains wrong on %v", got)
	}
	full := newBitset(128)
	for i := TaskID(0); i < 128; i++ {
		full.set(i)
	}
	if s := full.taskSet(); len(s) != 1 || s[0] != (TaskRange{0, 128}) {
		t.Fatalf("full set %v", s)
	}
}

func TestNamesSurviveBadRanges(t *testing.T) {
	topo := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 2}}})
	if got := (TaskSet{{-3, 1}, {1, 99}}).Names(topo); strings.Join(got, ",") != "a/0,a/1" {
		t.Fatalf("got %v", got)
	}
	if got := DescribeEffect(topo, Effect{Type: EffCoordinatorFallback, Vertex: 7}); !strings.Contains(got, "vertex#7") {
		t.Fatalf("got %q", got)
	}
	if _, err := NewTopology(JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: MaxSubtasks + 1}}}); err == nil {
		t.Fatal("oversized job accepted")
	}
}
