package history

import (
	"errors"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAckStateDecodeEncode: an ack's state handle is read by the strict
// decoder (the fast path leaves such lines to it) and written back byte for
// byte; every malformed or out-of-bounds handle is refused naming the field.
func TestAckStateDecodeEncode(t *testing.T) {
	topo := fastTopology(t)
	for _, line := range []string{
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"file:///ckpt/job/chk-1/src-0","size":1050285}}`,
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state_size":3,"state":{"inline":"YWJj","size":3}}`,
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"inline":"","size":0}}`,
		`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"size":9007199254740991}}`,
	} {
		if _, ok := fastEvent(topo, []byte(line)); ok {
			t.Fatalf("fast path accepted %s (it does not read handles)", line)
		}
		rec, err := decodeEventStrict(topo, []byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if rec.Handle.IsZero() {
			t.Fatalf("%s: no handle decoded", line)
		}
		out, err := EncodeEventState(topo, rec.Event, rec.Handle, nil)
		if err != nil || string(out) != line {
			t.Errorf("encode: got %s (%v), want %s", out, err, line)
		}
	}
	long := strings.Repeat("x", MaxHandleURIBytes+1)
	big := strings.Repeat("A", (MaxInlineStateBytes/3+2)*4)
	for _, c := range []struct{ line, field string }{
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a","inline":"YQ==","size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"` + long + `","size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"","size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a\u0001","size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":7,"size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"inline":"` + big + `","size":1}}`, "state.inline"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"inline":"YW*j","size":3}}`, "state.inline"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"inline":"YWJj","size":4}}`, "state.size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a","size":-1}}`, "state.size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a","size":9007199254740992}}`, "state.size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a"}}`, "state.size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"size":0}}`, "state.size"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a","size":1,"owner":"x"}}`, "state.owner"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"a","uri":"b","size":1}}`, "state.uri"},
		{`{"at":5,"type":"ack","checkpoint":1,"task":"src/0","state":"file:///x"}`, "state"},
		{`{"at":5,"type":"decline","checkpoint":1,"task":"src/0","state":{"uri":"a","size":1}}`, "state"},
	} {
		_, err := decodeEventStrict(topo, []byte(c.line))
		var fe *fieldError
		if !errors.As(err, &fe) || fe.field != c.field {
			t.Errorf("%.120s: got %v, want an error on %s", c.line, err, c.field)
		}
	}
}

// TestAckStateNeedsFormat: a state handle is allowed only in a v1.2 history;
// a v1 or v1.1 file with one is refused on the line, naming the version.
func TestAckStateNeedsFormat(t *testing.T) {
	body := `{"at":0,"type":"start"}
{"at":1000,"type":"tick"}
{"at":1100,"type":"ack","checkpoint":1,"task":"src/0","state":{"uri":"file:///x","size":1}}
`
	header := func(format string) string {
		return `{"format":"` + format + `","job":{"vertices":[{"id":"src","parallelism":2},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]},"config":{"interval_ms":1000}}` + "\n"
	}
	h, err := Decode(strings.NewReader(header(FormatState)+body), "v12.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Records[2].Handle; got.URI != "file:///x" || got.Size != 1 {
		t.Fatalf("handle %+v", got)
	}
	for _, f := range []string{Format, FormatResume} {
		_, err := Decode(strings.NewReader(header(f)+body), "old.jsonl")
		if err == nil || !strings.Contains(err.Error(), "old.jsonl:4: state: an ack's state handle needs the header format \"ckpt-history/v1.2\"") {
			t.Errorf("%s: got %v", f, err)
		}
	}
	// A replay of a v1.2 history decides as without the handles (the core never sees them).
	if _, err := Replay(h, Options{}); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

func TestEncodeEventStateRefuses(t *testing.T) {
	topo := fastTopology(t)
	h := StateHandle{URI: "a", Size: 1}
	if _, err := EncodeEventState(topo, fsm.Event{Type: fsm.EvDecline, Checkpoint: 1}, h, nil); err == nil {
		t.Error("a handle on a decline was written")
	}
	if _, err := EncodeEventState(topo, fsm.Event{Type: fsm.EvAck, Checkpoint: 1}, StateHandle{URI: "a", Size: -1}, nil); err == nil {
		t.Error("a negative size was written")
	}
}
