package history

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// hdr is a valid header: src(2) -> sink(2), pointwise, pipelined: regions r0, r1.
const hdr = `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":2,"coordinator":"fallback"},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]},"config":{"interval_ms":1000}}`

const start = `{"at":0,"type":"start"}`

// lines joins lines with newlines, as a file.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// withHeader builds a file: header, start, then the given lines, so that the
// first given line is line 3.
func withHeader(ls ...string) string { return lines(append([]string{hdr, start}, ls...)...) }

// header builds a one-line file with a header whose job and config are given.
func header(job, config string) string {
	return lines(`{"format":"ckpt-history/v1","job":`+job+`,"config":`+config+`}`, start)
}

const job = `{"vertices":[{"id":"src","parallelism":2},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]}`

// TestDecodeErrors covers every structural error of HISTORY.md: each must be an
// *Error on the exact physical line, naming the field, never a panic.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		line   int
		field  string
		reason string // a substring of the reason
	}{
		// Malformed JSON and lines.
		{"malformed event JSON", withHeader(`{"at":1,"type":"tick"`), 3, "", "malformed JSON"},
		{"malformed header JSON", lines(`{"format":`), 1, "", "malformed JSON"},
		{"trailing garbage", withHeader(`{"at":1,"type":"tick"} {}`), 3, "", "more than one value"},
		{"not an object", withHeader(`[1,2]`), 3, "", "want an object"},
		{"invalid UTF-8", withHeader("{\"at\":1,\"type\":\"tick\",\"x\":\"\xff\"}"), 3, "", "UTF-8"},
		{"duplicate field", withHeader(`{"at":1,"at":2,"type":"tick"}`), 3, "at", "duplicate field"},

		// Header.
		{"no header, empty file", "", 1, "", "no header"},
		{"no header, only comments", lines("// a", "", "// b"), 4, "", "no header"},
		{"event first", lines(start), 1, "format", "must be the header"},
		{"bad format", lines(`{"format":"ckpt-history/v2","job":` + job + `}`), 1, "format", `"ckpt-history/v2" is not supported`},
		{"format wrong type", lines(`{"format":1,"job":` + job + `}`), 1, "format", "want a string, got 1"},
		{"missing job", lines(`{"format":"ckpt-history/v1"}`), 1, "job", "missing required field"},
		{"unknown header field", lines(`{"format":"ckpt-history/v1","job":` + job + `,"colour":"red"}`), 1, "colour", "unknown field"},
		{"no events", lines(hdr), 1, "", "no events"},

		// Job, vertices, edges.
		{"unknown job field", header(`{"vertices":[{"id":"a","parallelism":1}],"nodes":[]}`, `{}`), 1, "job.nodes", "unknown field"},
		{"missing vertices", header(`{"edges":[]}`, `{}`), 1, "job.vertices", "missing required field"},
		{"no vertices", header(`{"vertices":[]}`, `{}`), 1, "job.vertices", "at least one vertex"},
		{"unknown vertex field", header(`{"vertices":[{"id":"a","parallelism":1},{"id":"b","par":1}]}`, `{}`), 1, "job.vertices[1].par", "unknown field"},
		{"missing parallelism", header(`{"vertices":[{"id":"a"}]}`, `{}`), 1, "job.vertices[0].parallelism", "missing required field"},
		{"parallelism string", header(`{"vertices":[{"id":"a","parallelism":"2"}]}`, `{}`), 1, "job.vertices[0].parallelism", `want an integer, got string "2"`},
		{"parallelism float", header(`{"vertices":[{"id":"a","parallelism":2.5}]}`, `{}`), 1, "job.vertices[0].parallelism", "want an integer, got 2.5"},
		{"parallelism zero", header(`{"vertices":[{"id":"a","parallelism":0}]}`, `{}`), 1, "job.vertices[0].parallelism", "out of range"},
		{"vertex id null", header(`{"vertices":[{"id":null,"parallelism":1}]}`, `{}`), 1, "job.vertices[0].id", "want a string, got null"},
		{"duplicate vertex", header(`{"vertices":[{"id":"a","parallelism":1},{"id":"a","parallelism":1}]}`, `{}`), 1, "job", `vertex "a": duplicate id`},
		{"unknown coordinator", header(`{"vertices":[{"id":"a","parallelism":1,"coordinator":"none"}]}`, `{}`), 1, "job.vertices[0].coordinator", `unknown coordinator "none"`},
		{"unknown edge field", header(`{"vertices":[{"id":"a","parallelism":1},{"id":"b","parallelism":1}],"edges":[{"from":"a","to":"b","kind":"x"}]}`, `{}`), 1, "job.edges[0].kind", "unknown field"},
		{"edge missing to", header(`{"vertices":[{"id":"a","parallelism":1}],"edges":[{"from":"a"}]}`, `{}`), 1, "job.edges[0].to", "missing required field"},
		{"edge unknown vertex", header(`{"vertices":[{"id":"a","parallelism":1}],"edges":[{"from":"a","to":"zz"}]}`, `{}`), 1, "job.edges[0].to", `no vertex "zz"`},
		{"unknown pattern", header(`{"vertices":[{"id":"a","parallelism":1},{"id":"b","parallelism":1}],"edges":[{"from":"a","to":"b","pattern":"forward"}]}`, `{}`), 1, "job.edges[0].pattern", `unknown pattern "forward"`},
		{"unknown exchange", header(`{"vertices":[{"id":"a","parallelism":1},{"id":"b","parallelism":1}],"edges":[{"from":"a","to":"b","exchange":"batch"}]}`, `{}`), 1, "job.edges[0].exchange", `unknown exchange "batch"`},
		{"edges not an array", header(`{"vertices":[{"id":"a","parallelism":1}],"edges":{}}`, `{}`), 1, "job.edges", "want an array"},
		{"self loop", header(`{"vertices":[{"id":"a","parallelism":1}],"edges":[{"from":"a","to":"a"}]}`, `{}`), 1, "job", "self-loop"},

		// Config.
		{"unknown config field", header(job, `{"interval":1000}`), 1, "config.interval", "unknown field"},
		{"unknown regional field", header(job, `{"regional":{"enabled":true,"ratio":0.5}}`), 1, "config.regional.ratio", "unknown field"},
		{"config wrong type", header(job, `{"timeout_ms":"60s"}`), 1, "config.timeout_ms", `want an integer, got string "60s"`},
		{"config non-integer", header(job, `{"interval_ms":100.5}`), 1, "config.interval_ms", "want an integer, got 100.5"},
		{"config exponent", header(job, `{"interval_ms":1e3}`), 1, "config.interval_ms", "want an integer, got 1e3"},
		{"config bool wrong type", header(job, `{"regional":{"enabled":"yes"}}`), 1, "config.regional.enabled", `want true or false, got string "yes"`},
		{"config ratio wrong type", header(job, `{"regional":{"max_failure_ratio":"half"}}`), 1, "config.regional.max_failure_ratio", "want a number"},
		{"invalid timeout", header(job, `{"timeout_ms":5}`), 1, "config.timeout_ms", "must be >= 10"},
		{"invalid interval", header(job, `{"interval_ms":5}`), 1, "config.interval_ms", "must be 0"},
		{"invalid ratio", header(job, `{"regional":{"max_failure_ratio":1.5}}`), 1, "config.regional.max_failure_ratio", "between 0 and 1"},
		{"invalid max_timeout", header(job, `{"timeout_ms":1000,"max_timeout_ms":500}`), 1, "config.max_timeout_ms", "timeout_ms (1000)"},
		{"negative retained", header(job, `{"retained":-1}`), 1, "config.retained", "must be >= 1"},
		{"config not an object", header(job, `[]`), 1, "config", "want an object"},

		// Events: type, at.
		{"missing type", withHeader(`{"at":1}`), 3, "type", "missing required field"},
		{"unknown type", withHeader(`{"at":1,"type":"tock"}`), 3, "type", `unknown event type "tock"`},
		{"type wrong type", withHeader(`{"at":1,"type":7}`), 3, "type", "want a string, got 7"},
		{"missing at", withHeader(`{"type":"tick"}`), 3, "at", "missing required field"},
		{"at string", withHeader(`{"at":"5","type":"tick"}`), 3, "at", `want an integer, got string "5"`},
		{"at float", withHeader(`{"at":1.5,"type":"tick"}`), 3, "at", "want an integer, got 1.5"},
		{"at negative", lines(hdr, `{"at":-1,"type":"start"}`), 2, "at", "-1 is not a non-negative integer"},
		{"at too large", withHeader(`{"at":9007199254740992,"type":"tick"}`), 3, "at", "below 2^53"},
		{"at overflow", withHeader(`{"at":99999999999999999999,"type":"tick"}`), 3, "at", "out of range"},
		{"unknown event field", withHeader(`{"at":1,"type":"tick","checkpoint":1}`), 3, "checkpoint", `unknown field (a tick event has: at, type, effects)`},
		{"effects not an array", withHeader(`{"at":1,"type":"tick","effects":{}}`), 3, "effects", "want an array"},
		{"effect not an object", withHeader(`{"at":1,"type":"tick","effects":[1]}`), 3, "effects[0]", "want an effect object"},

		// Events: order.
		{"event before start", lines(hdr, `{"at":0,"type":"tick"}`), 2, "type", "the first event must be start"},
		{"second start", withHeader(`{"at":5,"type":"start"}`), 3, "type", "second start: the job already started on line 2"},
		{"time backwards", withHeader(`{"at":10,"type":"tick"}`, `{"at":9,"type":"tick"}`), 4, "at", "time goes backwards: 9 after 10 on line 3"},

		// Events: fields per type.
		{"trigger missing kind", withHeader(`{"at":1,"type":"trigger"}`), 3, "kind", "missing required field"},
		{"unknown kind", withHeader(`{"at":1,"type":"trigger","kind":"snapshot"}`), 3, "kind", `unknown kind "snapshot"`},
		{"ack missing checkpoint", withHeader(`{"at":1,"type":"ack","task":"src/0"}`), 3, "checkpoint", "missing required field"},
		{"ack missing task", withHeader(`{"at":1,"type":"ack","checkpoint":1}`), 3, "task", "missing required field"},
		{"checkpoint zero", withHeader(`{"at":1,"type":"ack","checkpoint":0,"task":"src/0"}`), 3, "checkpoint", "0 is not a positive integer below 2^53"},
		{"checkpoint 2^53", withHeader(`{"at":1,"type":"persisted","checkpoint":9007199254740992}`), 3, "checkpoint", "not a positive integer below 2^53"},
		{"checkpoint float", withHeader(`{"at":1,"type":"persisted","checkpoint":1.0}`), 3, "checkpoint", "want an integer, got 1.0"},
		{"task wrong type", withHeader(`{"at":1,"type":"task_failed","task":3}`), 3, "task", "want a string, got 3"},
		{"subtask out of range", withHeader(`{"at":1,"type":"ack","checkpoint":1,"task":"sink/2"}`), 3, "task", `vertex "sink" has parallelism 2`},
		{"unknown vertex in task", withHeader(`{"at":1,"type":"task_running","task":"map/0"}`), 3, "task", `the job has no vertex "map"`},
		{"task without index", withHeader(`{"at":1,"type":"task_finished","task":"src"}`), 3, "task", "want vertex/index"},
		{"task bad index", withHeader(`{"at":1,"type":"task_finished","task":"src/01"}`), 3, "task", "not a non-negative integer"},
		{"unknown decline reason", withHeader(`{"at":1,"type":"decline","checkpoint":1,"task":"src/0","reason":"tired"}`), 3, "reason", `"tired" is not a decline reason`},
		{"decline field on ack", withHeader(`{"at":1,"type":"ack","checkpoint":1,"task":"src/0","reason":"declined"}`), 3, "reason", "unknown field"},
		{"patch missing request", withHeader(`{"at":1,"type":"config_patch","interval_ms":100}`), 3, "request", "missing required field"},
		{"patch request zero", withHeader(`{"at":1,"type":"config_patch","request":0}`), 3, "request", "not a positive integer"},
		{"patch interval float", withHeader(`{"at":1,"type":"config_patch","request":1,"interval_ms":0.5}`), 3, "interval_ms", "want an integer"},
		{"patch unknown field", withHeader(`{"at":1,"type":"config_patch","request":1,"min_pause_ms":5}`), 3, "min_pause_ms", "unknown field"},
		{"persisted request", withHeader(`{"at":1,"type":"config_persisted","request":"a"}`), 3, "request", "want an integer"},

		// Start and restore.
		{"initial delay negative", lines(hdr, `{"at":0,"type":"start","initial_delay_ms":-5}`), 2, "initial_delay_ms", "not a non-negative integer"},
		{"unknown restore field", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","id":3}}`), 2, "restore.id", "unknown field"},
		{"restore missing mode", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3}}`), 2, "restore.mode", "missing required field"},
		{"restore missing checkpoint", lines(hdr, `{"at":0,"type":"start","restore":{"mode":"claim"}}`), 2, "restore.checkpoint", "missing required field"},
		{"unknown mode", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"steal"}}`), 2, "restore.mode", `unknown mode "steal"`},
		{"restore checkpoint zero", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":0,"mode":"claim"}}`), 2, "restore.checkpoint", "not a positive integer"},
		{"restore unknown region", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","refs":{"r5":2}}}`), 2, "restore.refs.r5", "the job has 2 regions"},
		{"restore bad region name", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","refs":{"region1":2}}}`), 2, "restore.refs.region1", "want rN"},
		{"restore ref not integer", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","refs":{"r1":"2"}}}`), 2, "restore.refs.r1", "want an integer"},
		{"restore ref newer", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","refs":{"r1":4}}}`), 2, "restore.refs.r1", "newer than the snapshot 3"},
		{"restore duplicate region", lines(hdr, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"claim","refs":{"r1":2,"r1":1}}}`), 2, "restore.refs.r1", "duplicate field"},
		{"restore not an object", lines(hdr, `{"at":0,"type":"start","restore":3}`), 2, "restore", "want an object, got 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := Decode(strings.NewReader(c.text), "f.jsonl")
			if err == nil {
				t.Fatalf("decoded %d records, want an error", len(h.Records))
			}
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if he.File != "f.jsonl" || he.Line != c.line || he.Field != c.field || !strings.Contains(he.Reason, c.reason) {
				t.Errorf("got  %s\nwant f.jsonl:%d: %s: ...%s...", he, c.line, c.field, c.reason)
			}
			prefix := "f.jsonl:" + strconv.Itoa(c.line) + ": "
			if c.field != "" {
				prefix += c.field + ": "
			}
			if !strings.HasPrefix(he.Error(), prefix) {
				t.Errorf("message %q does not start with %q", he.Error(), prefix)
			}
		})
	}
}

// TestCommentsKeepLineNumbers checks that blank lines, // comments (also
// indented), CRLF endings and a missing final newline do not shift the physical
// line numbers in records and errors.
func TestCommentsKeepLineNumbers(t *testing.T) {
	text := "// a history\r\n\r\n" + hdr + "\r\n   // indented comment\r\n\r\n" + start + "\r\n\t\r\n" +
		`{"at":1,"type":"tick"}` + "\r\n// end\r\n" + `{"at":2,"type":"tick"}` // no final newline
	h, err := Decode(strings.NewReader(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	if h.HeaderLine != 3 {
		t.Errorf("header line %d, want 3", h.HeaderLine)
	}
	var got []int
	for _, r := range h.Records {
		got = append(got, r.Line)
	}
	if want := []int{6, 8, 10}; !slices.Equal(got, want) {
		t.Errorf("record lines %v, want %v", got, want)
	}
	_, err = Decode(strings.NewReader(text+"\n\n// x\n"+`{"at":1,"type":"tick"}`), "f")
	var he *Error
	if !errors.As(err, &he) || he.Line != 13 || he.Field != "at" {
		t.Errorf("got %v, want f:13: at: time goes backwards", err)
	}
}

// TestDecodeLongLine checks that a line longer than bufio.Scanner's default
// 64 KiB limit is read whole.
func TestDecodeLongLine(t *testing.T) {
	effs := strings.Repeat(`{"type":"warn","code":"x","message":"`+strings.Repeat("m", 1000)+`"},`, 200)
	text := withHeader(`{"at":1,"type":"tick","effects":[` + strings.TrimSuffix(effs, ",") + `]}`)
	h, err := Decode(strings.NewReader(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Records[1]; !r.HasRecorded || len(r.Recorded) != 200 {
		t.Errorf("recorded %d effects, want 200", len(r.Recorded))
	}
}

// TestDecodeValues checks what a valid file decodes to: defaults for missing
// config keys, optional fields and their Has* flags, restore refs sorted.
func TestDecodeValues(t *testing.T) {
	text := lines(
		`{"format":"ckpt-history/v1","job":{"vertices":[{"id":"a","parallelism":3,"coordinator":"plain"},{"id":"b","parallelism":3}],"edges":[{"from":"a","to":"b","pattern":"all_to_all","exchange":"blocking"}]},"config":{"timeout_ms":700,"regional":{"enabled":true}}}`,
		`{"at":0,"type":"start","initial_delay_ms":0,"restore":{"checkpoint":9,"mode":"no_claim","refs":{"r4":7,"r1":8}}}`,
		`{"at":3,"type":"decline","checkpoint":2,"task":"b/2","reason":"task_not_ready"}`,
		`{"at":4,"type":"decline","checkpoint":2,"task":"b/1"}`,
		`{"at":5,"type":"config_patch","request":4,"timeout_ms":-3}`,
		`{"at":6,"type":"tick","effects":[ {"type" : "warn"} ]}`,
	)
	h, err := Decode(strings.NewReader(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := fsm.DefaultConfig()
	want.TimeoutMs = 700
	want.Regional.Enabled = true
	if h.Header.Config != want {
		t.Errorf("config %+v, want %+v", h.Header.Config, want)
	}
	if e := h.Header.Job.Edges[0]; e.Pattern != fsm.AllToAll || e.Exchange != fsm.Blocking {
		t.Errorf("edge %+v", e)
	}
	if v := h.Header.Job.Vertices[0]; v.Coordinator != fsm.CoordinatorPlain {
		t.Errorf("vertex %+v", v)
	}
	st := h.Records[0].Event
	if !st.HasInitialDelay || st.InitialDelayMs != 0 || st.Restore == nil || st.Restore.Mode != fsm.NoClaim {
		t.Fatalf("start %+v", st)
	}
	if got := st.Restore.Refs; len(got) != 2 || got[0] != (fsm.RegionRef{Region: 1, Checkpoint: 8}) || got[1] != (fsm.RegionRef{Region: 4, Checkpoint: 7}) {
		t.Errorf("refs %+v, want sorted by region", got)
	}
	if r := h.Records[1].Event.Reason; r != fsm.ReasonTaskNotReady {
		t.Errorf("reason %q", r)
	}
	if r := h.Records[2].Event.Reason; r != "" {
		t.Errorf("default reason %q, want empty (the core reads it as declined)", r)
	}
	p := h.Records[3].Event
	if p.HasInterval || !p.HasTimeout || p.TimeoutMs != -3 {
		t.Errorf("patch %+v: an out-of-range value is a valid event (R60)", p)
	}
	rec := h.Records[4]
	if !rec.HasRecorded || len(rec.Recorded) != 1 || string(rec.Recorded[0]) != `{"type":"warn"}` {
		t.Errorf("recorded %q, want compacted", rec.Recorded)
	}
	if h.Records[0].HasRecorded {
		t.Error("HasRecorded without an effects field")
	}
}
