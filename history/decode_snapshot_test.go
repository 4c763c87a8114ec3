package history

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// snapshotFile is a v1.3 history: the header, a snapshot record of s, then
// evs with the effects each had in the original run.
func snapshotFile(t *testing.T, h Header, s *fsm.State, evs []fsm.Event, effs [][]fsm.Effect) string {
	t.Helper()
	h.Format = FormatSnapshot
	hdr, err := EncodeHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(hdr)
	b.WriteByte('\n')
	b.Write(EncodeSnapshotRecord(s))
	b.WriteByte('\n')
	for i, ev := range evs {
		line, err := EncodeEvent(s.Topology(), ev, effs[i])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestSnapshotRecordContinuesEveryPrefix: for every golden history that
// replays cleanly and every prefix of it, a v1.3 file holding a snapshot of
// the core after the prefix and then the rest of the events — each with the
// effects the full replay computed for it — replays with every invariant
// holding, no recorded effect diverging, and the full replay's end.
func TestSnapshotRecordContinuesEveryPrefix(t *testing.T) {
	var paths []string
	for _, dir := range []string{"regional", "spec", "flink"} {
		m, _ := filepath.Glob(filepath.Join("testdata", "golden", dir, "*.jsonl"))
		paths = append(paths, m...)
	}
	files, prefixes := 0, 0
	for _, path := range paths {
		h, err := ReadFile(path)
		if err != nil || h.Header.Format != Format {
			continue
		}
		full, err := Replay(h, Options{Check: true})
		if err != nil || !full.OK() {
			continue
		}
		files++
		s, err := fsm.New(h.Topology, h.Header.Config)
		if err != nil {
			t.Fatal(err)
		}
		var evs []fsm.Event
		var effs [][]fsm.Effect
		run := s.Clone()
		for _, rec := range h.Records {
			e, err := run.Step(rec.Event)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, rec.Line, err)
			}
			evs, effs = append(evs, rec.Event), append(effs, append([]fsm.Effect{}, e...))
		}
		for k := 1; k <= len(evs); k++ {
			s.Step(evs[k-1])
			text := snapshotFile(t, h.Header, s, evs[k:], effs[k:])
			d, err := NewReader(strings.NewReader(text), "snap.jsonl")
			if err != nil {
				t.Fatalf("%s after %d events: %v", path, k, err)
			}
			res, err := ReplayReader(d, Options{Check: true})
			if err != nil {
				t.Fatalf("%s after %d events: %v\n%s", path, k, err, text)
			}
			if !res.OK() {
				t.Fatalf("%s after %d events: violations %+v, divergence %v\n%s", path, k, res.Summary.Violations, res.Divergence, text)
			}
			if g, w := res.Summary, full.Summary; g.Job != w.Job || !equalIDs(g.Retained, w.Retained) || g.Config != w.Config {
				t.Fatalf("%s after %d events: ends %s %v %+v, the full replay %s %v %+v", path, k, g.Job, g.Retained, g.Config, w.Job, w.Retained, w.Config)
			}
			prefixes++
		}
	}
	if files < 20 || prefixes < 200 {
		t.Fatalf("only %d files, %d prefixes checked", files, prefixes)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnapshotRecordErrors: a snapshot record is refused, on its line and
// naming the field, where HISTORY.md says it is invalid.
func TestSnapshotRecordErrors(t *testing.T) {
	job := `"job":{"vertices":[{"id":"a","parallelism":2}]}`
	hdr := func(format string) string {
		return `{"format":"` + format + `",` + job + `,"config":{"interval_ms":1000}}` + "\n"
	}
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 1000
	s, _ := fsm.New(topo, cfg)
	if _, err := s.Step(fsm.Event{Type: fsm.EvStart, At: 5}); err != nil {
		t.Fatal(err)
	}
	rec := string(EncodeSnapshotRecord(s)) + "\n"
	snap := base64.StdEncoding.EncodeToString(s.AppendSnapshot(nil))
	other := fsm.DefaultConfig()
	os, _ := fsm.New(topo, other)
	os.Step(fsm.Event{Type: fsm.EvStart, At: 5})
	for _, c := range []struct{ name, text, want string }{
		{"v1.2 header", hdr(FormatState) + rec, `snap.jsonl:2: type: a snapshot record needs the header format "ckpt-history/v1.3"`},
		{"not first", hdr(FormatSnapshot) + `{"at":5,"type":"start"}` + "\n" + rec, "snap.jsonl:3: type: a snapshot record must be the first event"},
		{"base64", hdr(FormatSnapshot) + `{"at":5,"type":"snapshot","snapshot":"@@"}` + "\n", "snap.jsonl:2: snapshot: not standard base64"},
		{"truncated", hdr(FormatSnapshot) + `{"at":5,"type":"snapshot","snapshot":"` + base64.StdEncoding.EncodeToString(s.AppendSnapshot(nil)[:20]) + `"}` + "\n", "snap.jsonl:2: snapshot: "},
		{"time", hdr(FormatSnapshot) + `{"at":6,"type":"snapshot","snapshot":"` + snap + `"}` + "\n", "snap.jsonl:2: at: 6, but the snapshot is of time 5"},
		{"config", hdr(FormatSnapshot) + string(EncodeSnapshotRecord(os)) + "\n", "snap.jsonl:2: snapshot: the snapshot's configuration"},
		{"effects", hdr(FormatSnapshot) + `{"at":5,"type":"snapshot","snapshot":"` + snap + `","effects":[{"type":"discard","checkpoint":1}]}` + "\n", "snap.jsonl:2: effects: a snapshot record has no effects"},
		{"unknown field", hdr(FormatSnapshot) + `{"at":5,"type":"snapshot","snapshot":"` + snap + `","x":1}` + "\n", "snap.jsonl:2: x"},
		{"unknown version", hdr("ckpt-history/v1.4") + rec, `"ckpt-history/v1.4" is not supported`},
	} {
		d, err := NewReader(strings.NewReader(c.text), "snap.jsonl")
		if err == nil {
			_, err = ReplayReader(d, Options{Check: true})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	d, err := NewReader(strings.NewReader(hdr(FormatSnapshot)+rec+`{"at":1005,"type":"tick"}`+"\n"), "snap.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReplayReader(d, Options{Check: true})
	if err != nil || !res.OK() || res.Counts.Triggered != 1 {
		t.Fatalf("a valid snapshot file: %v, %+v", err, res)
	}
}
