package history

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAckSizesDecodeEncode: an ack's optional sizes are read by both decoders
// alike, written back as they were, and refused with the field named when they
// are not byte counts below 2^53 or sit on another event type.
func TestAckSizesDecodeEncode(t *testing.T) {
	topo := fastTopology(t)
	for _, line := range []string{
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":1050285,"checkpointed_size":4096}`,
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":7}`,
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","checkpointed_size":9007199254740991}`,
	} {
		fast, ok := fastEvent(topo, []byte(line))
		strict, err := decodeEventStrict(topo, []byte(line))
		if !ok || err != nil || !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%s: fast %v %+v, strict %v %+v", line, ok, fast, err, strict)
		}
		out, err := EncodeEvent(topo, strict.Event, nil)
		if err != nil || string(out) != line {
			t.Errorf("encode: got %s (%v), want %s", out, err, line)
		}
	}
	for _, c := range []struct{ line, field string }{
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":-1}`, "state_size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","checkpointed_size":9007199254740992}`, "checkpointed_size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":1.5}`, "state_size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":"12"}`, "state_size"},
		{`{"at":5,"type":"decline","checkpoint":1,"task":"src/0","state_size":12}`, "state_size"},
	} {
		if _, ok := fastEvent(topo, []byte(c.line)); ok {
			t.Errorf("fast path accepted %s", c.line)
		}
		_, err := decodeEventStrict(topo, []byte(c.line))
		var fe *fieldError
		if !errors.As(err, &fe) || fe.field != c.field {
			t.Errorf("%s: got %v, want an error on %s", c.line, err, c.field)
		}
	}
}

// TestAckSizesInReplay: the totals reach the persist and completed effects as
// recorded, and the summary's completed entries.
func TestAckSizesInReplay(t *testing.T) {
	src := `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":2},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]},"config":{"interval_ms":1000}}
{"at":0,"type":"start"}
{"at":1000,"type":"tick"}
{"at":1100,"type":"ack","checkpoint":1,"task":"src/0","state_size":100,"checkpointed_size":10}
{"at":1100,"type":"ack","checkpoint":1,"task":"src/1","state_size":200,"checkpointed_size":20}
{"at":1100,"type":"ack","checkpoint":1,"task":"sink/0","state_size":300}
{"at":1100,"type":"ack","checkpoint":1,"task":"sink/1","effects":[{"type":"persist","checkpoint":1,"kind":"checkpoint","mode":"global","refs":{"r0":1,"r1":1},"consecutive":0,"state_size":600,"checkpointed_size":30}]}
{"at":1200,"type":"persisted","checkpoint":1}
`
	h, err := Decode(strings.NewReader(src), "sizes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	res, err := Replay(h, Options{Check: true, Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("replay: %+v %+v", res.Divergence, res.Summary.Violations)
	}
	c := res.Summary.Completed
	if len(c) != 1 || c[0].StateSize != 600 || c[0].CheckpointedSize != 30 {
		t.Fatalf("summary completed: %+v", c)
	}
	if !bytes.Contains(res.Summary.Encode(), []byte(`"state_size":600,"checkpointed_size":30`)) {
		t.Errorf("summary JSON lacks the sizes:\n%s", res.Summary.Encode())
	}
	if !strings.Contains(trace.String(), "completed 1 checkpoint global consecutive=0 state_size=600 checkpointed_size=30") {
		t.Errorf("trace lacks the sizes:\n%s", trace.String())
	}
	eff := EncodeEffect(h.Topology, fsm.Effect{Type: fsm.EffCompleted, Checkpoint: 1, StateSize: 600, CheckpointedSize: 30})
	if !bytes.Contains(eff, []byte(`"state_size":600,"checkpointed_size":30`)) {
		t.Errorf("EncodeEffect: %s", eff)
	}
}
