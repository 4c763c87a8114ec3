package history

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

func fastTopology(t testing.TB) *fsm.Topology {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges: []fsm.EdgeSpec{{From: "src", To: "sink"}}})
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// FuzzFastEventAgrees: whatever line the fast path accepts, the strict decoder
// accepts too, with the same record; the fast path only saves time.
func FuzzFastEventAgrees(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.jsonl")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, `{"at"`) {
				f.Add([]byte(line))
			}
		}
	}
	f.Add([]byte(`{"at":1,"type":"ack","checkpoint":1,"task":"src/0","task":"src/1"}`))
	f.Add([]byte(`{"at":01,"type":"tick"}`))
	f.Add([]byte(`{"at":9007199254740993,"type":"tick"}`))
	topo := fastTopology(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, ok := fastEvent(topo, line)
		if !ok {
			return
		}
		strict, err := decodeEventStrict(topo, line)
		if err != nil {
			t.Fatalf("fast path accepted %q, strict decoder: %v", line, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: fast %+v, strict %+v", line, fast, strict)
		}
	})
}

// TestFastEventRefusesWhatItDoesNotKnow: the strict decoder keeps every error.
func TestFastEventRefusesWhatItDoesNotKnow(t *testing.T) {
	topo := fastTopology(t)
	for _, line := range []string{
		`{"at":1,"type":"ack","checkpoint":1,"task":"src/0","task":"src/1"}`,
		`{"at":01,"type":"tick"}`,
		`{"at":1,"type":"tick","extra":1}`,
		`{"at":1,"type":"ack","checkpoint":0,"task":"src/0"}`,
		`{"at":1,"type":"ack","checkpoint":1,"task":"src/9"}`,
		`{"at":1,"type":"decline","checkpoint":1,"task":"src/0","reason":"nope"}`,
		`{"at":1, "type":"tick"}`,
		`{"at":1,"type":"start"}`,
	} {
		if _, ok := fastEvent(topo, []byte(line)); ok {
			t.Errorf("fast path accepted %s", line)
		}
	}
}
