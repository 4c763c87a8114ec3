package history

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestResumeRoundTrip: a regional run's durable state written as a resume
// record starts a history that replays with no violation and no divergence
// from the effects a core resumed from that state produced, and the record
// decodes back to the same state.
func TestResumeRoundTrip(t *testing.T) {
	h, err := Decode(strings.NewReader(withHeader(
		`{"at":1000,"type":"tick"}`,
		`{"at":1001,"type":"ack","checkpoint":1,"task":"src/0"}`,
		`{"at":1001,"type":"ack","checkpoint":1,"task":"src/1"}`,
		`{"at":1001,"type":"ack","checkpoint":1,"task":"sink/0"}`,
		`{"at":1001,"type":"ack","checkpoint":1,"task":"sink/1"}`,
		`{"at":1002,"type":"persisted","checkpoint":1}`,
		`{"at":1003,"type":"config_patch","request":1,"interval_ms":500}`,
		`{"at":1004,"type":"config_persisted","request":1}`,
		`{"at":3000,"type":"tick"}`,
		`{"at":3001,"type":"ack","checkpoint":2,"task":"src/1"}`,
		`{"at":3001,"type":"ack","checkpoint":2,"task":"sink/1"}`,
		`{"at":3002,"type":"decline","checkpoint":2,"task":"src/0"}`,
	)), "a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	h.Header.Config.Regional = fsm.RegionalConfig{Enabled: true, MaxFailureRatio: 0.5, MaxConsecutive: 3}
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Records {
		if _, err := s.Step(r.Event); err != nil {
			t.Fatal(err)
		}
	}
	if p := s.Pending(); len(p) != 1 || !p[0].Persisting {
		t.Fatalf("want checkpoint 2 persisting regionally, pending %+v", p)
	}
	if _, err := s.Step(fsm.Event{At: 3003, Type: fsm.EvPersisted, Checkpoint: 2}); err != nil {
		t.Fatal(err)
	}
	dur := s.Durable()
	if l, _ := s.LatestCompleted(); l.Mode != fsm.ModeRegional || dur.Overrides == nil {
		t.Fatalf("want a regional latest and overrides: %+v", dur)
	}
	// The resumed incarnation: resume at 5000, then a periodic checkpoint.
	resumed, effs, err := fsm.Resume(h.Topology, h.Header.Config, dur, 5000)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	hdr := h.Header
	hdr.Format = FormatResume
	w, err := NewWriter(&b, hdr)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(append(EncodeResume(h.Topology, 5000, dur, effs), '\n'))
	for _, ev := range []fsm.Event{{At: 5500, Type: fsm.EvTick}, {At: 5501, Type: fsm.EvAck, Checkpoint: 3, Task: 0},
		{At: 5501, Type: fsm.EvAck, Checkpoint: 3, Task: 1}, {At: 5501, Type: fsm.EvAck, Checkpoint: 3, Task: 2},
		{At: 5501, Type: fsm.EvAck, Checkpoint: 3, Task: 3}, {At: 5502, Type: fsm.EvPersisted, Checkpoint: 3}} {
		effs, err := resumed.Step(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteEvent(ev, effs); err != nil {
			t.Fatal(err)
		}
	}
	back, err := Decode(bytes.NewReader(b.Bytes()), "b.jsonl")
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got := back.Records[0].Resume; got == nil || !reflect.DeepEqual(*got, dur) {
		t.Fatalf("resume decodes to %+v, want %+v", got, dur)
	}
	res, err := Replay(back, Options{Check: true})
	if err != nil || !res.OK() {
		t.Fatalf("replay: %v %+v %v\n%s", err, res.Summary.Violations, res.Divergence, b.String())
	}
	if res.Counts.Completed != 1 || res.Summary.Retained[len(res.Summary.Retained)-1] != 3 {
		t.Fatalf("summary %+v", res.Summary)
	}
}

// TestResumeErrors: a resume record only first, only in a v1.1 file, with a
// state fsm.Resume accepts.
func TestResumeErrors(t *testing.T) {
	v11 := strings.Replace(hdr, `"ckpt-history/v1"`, `"ckpt-history/v1.1"`, 1)
	resume := `{"at":5,"type":"resume","durable":{"next_id":4,"checkpoints":[{"id":2,"mode":"global","retained":true,"owned":true}]}}`
	for _, c := range []struct{ name, text, want string }{
		{"v1 header", lines(hdr, resume), `a.jsonl:2: type: a resume record needs the header format "ckpt-history/v1.1"`},
		{"not first", lines(v11, start, resume), "a.jsonl:3: type: a resume record must be the first event"},
		{"id above next", lines(v11, strings.Replace(resume, `"next_id":4`, `"next_id":2`, 1)), "a.jsonl:2: durable.checkpoints[0].id: 2 is not below next_id 2"},
		{"ref not older", lines(v11, strings.Replace(resume, `"owned":true`, `"owned":true,"refs":{"r0":2}`, 1)), "a.jsonl:2: durable.checkpoints[0].refs.r0: 2 is not older"},
		{"unknown field", lines(v11, strings.Replace(resume, `"next_id":4`, `"next_id":4,"x":1`, 1)), "a.jsonl:2: durable.x: unknown field"},
		{"bad mode", lines(v11, strings.Replace(resume, `"global"`, `"local"`, 1)), `a.jsonl:2: durable.checkpoints[0].mode: unknown mode "local"`},
	} {
		_, err := Decode(strings.NewReader(c.text), "a.jsonl")
		var he *Error
		if !errors.As(err, &he) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	// A state the core refuses is refused on replay, on the record's line.
	h, err := Decode(strings.NewReader(lines(v11, `{"at":5,"type":"resume","durable":{"next_id":4,"overrides":{"interval_ms":1,"timeout_ms":5}}}`)), "a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(h, Options{}); err == nil || !strings.HasPrefix(err.Error(), "a.jsonl:2: ") {
		t.Fatalf("replay of an invalid state: %v", err)
	}
}
