package history

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// goldenHistories lists the NDJSON histories of the repository that the
// binary tests round-trip.
func goldenHistories(t testing.TB) []string {
	var out []string
	for _, dir := range []string{"testdata", "../examples", "../driver/testdata"} {
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".jsonl") {
				out = append(out, p)
			}
			return nil
		})
	}
	if len(out) < 10 {
		t.Fatalf("found %d histories: the test does not see the golden files", len(out))
	}
	return out
}

func toBinary(t testing.TB, ndjson []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ToBinary(&b, bytes.NewReader(ndjson), "in"); err != nil {
		t.Fatalf("ToBinary: %v", err)
	}
	return b.Bytes()
}

func toNDJSON(t testing.TB, bin []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ToNDJSON(&b, bytes.NewReader(bin), "in"); err != nil {
		t.Fatalf("ToNDJSON: %v", err)
	}
	return b.Bytes()
}

// countRuns counts the run records of a binary history.
func countRuns(t testing.TB, bin []byte) int {
	t.Helper()
	n := 0
	for off := range recordOffsets(t, bin) {
		if off < len(bin) && bin[off] == binRun {
			n++
		}
	}
	return n
}

// decodeBoth decodes a history in its NDJSON and binary forms; the records,
// claims and header must be equal, lines included.
func decodeBoth(t testing.TB, name string, ndjson, bin []byte) {
	t.Helper()
	a, errA := Decode(bytes.NewReader(ndjson), "f")
	b, errB := Decode(bytes.NewReader(bin), "f")
	if (errA == nil) != (errB == nil) {
		t.Fatalf("%s: NDJSON error %v, binary error %v", name, errA, errB)
	}
	if errA != nil {
		ea, eb := *errA.(*Error), *errB.(*Error)
		eb.Offset = 0
		if ea != eb {
			t.Fatalf("%s: NDJSON error %v, binary error %v", name, errA, errB)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		for i := range min(len(a.Records), len(b.Records)) {
			if !reflect.DeepEqual(a.Records[i], b.Records[i]) {
				t.Fatalf("%s: record %d differs:\n NDJSON %+v\n binary %+v", name, i, a.Records[i], b.Records[i])
			}
		}
		t.Fatalf("%s: decoded histories differ (%d and %d records)", name, len(a.Records), len(b.Records))
	}
}

// TestBinaryRoundTripsGoldenFiles converts every history of the repository to
// the binary variant and back: the NDJSON comes back byte for byte, and both
// forms decode to the same records.
func TestBinaryRoundTripsGoldenFiles(t *testing.T) {
	var runs int
	for _, p := range goldenHistories(t) {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := ToBinary(&b, bytes.NewReader(in), p); err != nil {
			continue // an invalid history (the golden error cases): ToBinary refuses it as Decode does
		}
		bin := b.Bytes()
		if !IsBinary(bin) {
			t.Fatalf("%s: no magic", p)
		}
		want := in
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(want, '\n')
		}
		if got := toNDJSON(t, bin); !bytes.Equal(got, want) {
			t.Fatalf("%s: NDJSON → binary → NDJSON differs:\n%s", p, firstDiff(want, got))
		}
		decodeBoth(t, p, in, bin)
		runs += countRuns(t, bin)
	}
	if runs == 0 {
		t.Fatal("no event of any golden file went into a run record")
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n want " + x + "\n got  " + y
		}
	}
	return "(no line differs)"
}

func itoa(i int) string { return strconv.Itoa(i) }

// randomFlight runs the core through random events the way the driver's
// flight recorder sees them — batches of acks, declines and subtask updates at
// one time, ticks, triggers, persist confirmations, refused events — and
// returns the NDJSON file the NDJSON recorder writes (LineEncoder, comment
// lines for refusals) and the binary file the binary recorder writes
// (BinaryEncoder, flushed at the end of each batch and before every step with
// effects).
func randomFlight(t testing.TB, rnd *rand.Rand) (ndjson, bin []byte) {
	t.Helper()
	spec := fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 1 + rnd.IntN(40)}, {ID: "sink", Parallelism: 1 + rnd.IntN(40)}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink", Pattern: []fsm.Pattern{fsm.Pointwise, fsm.AllToAll}[rnd.IntN(2)]}},
	}
	if spec.Edges[0].Pattern == fsm.Pointwise {
		spec.Vertices[1].Parallelism = spec.Vertices[0].Parallelism
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs, cfg.TolerableFailures = int64(rnd.IntN(3))*50, 1000
	cfg.Regional.Enabled = rnd.IntN(2) == 0
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		t.Fatal(err)
	}
	core, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := EncodeHeader(Header{Format: Format, Job: spec, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ndjson = append(hdr, '\n')
	benc := NewBinaryEncoder(topo)
	bin = benc.AppendLine(AppendBinaryMagic(nil), hdr)
	lenc := NewLineEncoder(topo)
	now := int64(0)
	step := func(ev fsm.Event) {
		effs, err := core.Step(ev)
		if err != nil {
			c := "// refused " + fsm.DescribeEvent(topo, ev) + ": " + strings.ReplaceAll(err.Error(), "\n", " ")
			ndjson = append(append(ndjson, c...), '\n')
			bin = benc.AppendLine(bin, []byte(c))
			return
		}
		if effs == nil {
			effs = []fsm.Effect{}
		}
		if ndjson, err = lenc.Append(ndjson, ev, effs); err != nil {
			t.Fatal(err)
		}
		ndjson = append(ndjson, '\n')
		if bin, err = benc.AppendEvent(bin, ev, StateHandle{}, effs); err != nil {
			t.Fatal(err)
		}
		if len(effs) > 0 {
			bin = benc.Flush(bin)
		}
	}
	step(fsm.Event{At: 0, Type: fsm.EvStart})
	n := topo.NumSubtasks()
	for range 10 + rnd.IntN(30) {
		now += int64(rnd.IntN(40))
		switch rnd.IntN(10) {
		case 0:
			step(fsm.Event{At: now, Type: fsm.EvTick})
		case 1:
			step(fsm.Event{At: now, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		case 2:
			for _, p := range core.Pending() {
				if p.Persisting {
					step(fsm.Event{At: now, Type: fsm.EvPersisted, Checkpoint: p.ID})
				}
			}
		default: // a batch of subtask events at one time
			pending := core.Pending()
			for range 1 + rnd.IntN(n) {
				ev := fsm.Event{At: now, Task: fsm.TaskID(rnd.IntN(n))}
				ckpt := int64(1 + rnd.IntN(3))
				if len(pending) > 0 {
					ckpt = pending[rnd.IntN(len(pending))].ID
				}
				switch k := rnd.IntN(20); {
				case k < 14:
					ev.Type, ev.Checkpoint = fsm.EvAck, ckpt
					if rnd.IntN(4) == 0 {
						ev.StateSize, ev.CheckpointedSize = rnd.Int64N(1<<40), rnd.Int64N(3)
					}
				case k < 16:
					ev.Type, ev.Checkpoint = fsm.EvDecline, ckpt
					ev.Reason = []fsm.Reason{"", fsm.ReasonDeclined, fsm.ReasonTaskNotReady}[rnd.IntN(3)]
				case k < 17:
					ev.Type = fsm.EvTaskFailed
				case k < 19:
					ev.Type = fsm.EvTaskRunning
				default:
					ev.Type = fsm.EvTaskFinished
				}
				if rnd.IntN(20) == 0 { // sequential subtasks: long ranges
					for i := range rnd.IntN(n) {
						ev.Task = fsm.TaskID(i)
						step(ev)
					}
					continue
				}
				step(ev)
			}
			bin = benc.Flush(bin) // the end of the loop's batch
		}
	}
	return ndjson, benc.Flush(bin)
}

// TestBinaryRandomFlights is the property the binary flight recorder rests
// on, over random runs of the core: the binary file converts to exactly the
// NDJSON file the NDJSON recorder writes for the same run, decodes to the
// same records, and the NDJSON file converts to a binary file that converts
// back to it byte for byte.
func TestBinaryRandomFlights(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 19))
	var ndjsonBytes, binBytes, runs int
	for i := range 60 {
		ndjson, bin := randomFlight(t, rnd)
		if got := toNDJSON(t, bin); !bytes.Equal(got, ndjson) {
			t.Fatalf("flight %d: binary → NDJSON is not the NDJSON recorder's file:\n%s", i, firstDiff(ndjson, got))
		}
		decodeBoth(t, "flight", ndjson, bin)
		if got := toNDJSON(t, toBinary(t, ndjson)); !bytes.Equal(got, ndjson) {
			t.Fatalf("flight %d: NDJSON → binary → NDJSON differs:\n%s", i, firstDiff(ndjson, got))
		}
		runs += countRuns(t, bin)
		ndjsonBytes, binBytes = ndjsonBytes+len(ndjson), binBytes+len(bin)
	}
	if runs == 0 {
		t.Fatal("no run record: the flights do not exercise runs")
	}
	t.Logf("%d NDJSON bytes, %d binary (%d run records)", ndjsonBytes, binBytes, runs)
}

// TestBinaryTornTail cuts a binary history at every byte: a cut between two
// records reads as the history up to there, any other ends with an error
// naming a torn last record (or, inside the header, the header), never a
// panic or a silently shorter history.
func TestBinaryTornTail(t *testing.T) {
	_, bin := randomFlight(t, rand.New(rand.NewPCG(7, 7)))
	bounds := recordOffsets(t, bin)
	offs := slices.Sorted(maps.Keys(bounds))
	headerEnd := offs[1] // the end of the header record: the start event follows
	// Every record boundary, and the bytes around it and in the middle of
	// each record (every byte would take a minute: the decode is linear).
	cuts := map[int]bool{}
	for i, o := range offs[:len(offs)-1] {
		for _, c := range []int{o, o + 1, o + 2, (o + offs[i+1]) / 2, offs[i+1] - 1} {
			cuts[c] = c > len(BinaryMagic) && c < len(bin)
		}
	}
	for cut, ok := range cuts {
		if !ok {
			continue
		}
		_, err := Decode(bytes.NewReader(bin[:cut]), "f")
		switch {
		case bounds[cut] && cut > headerEnd:
			if err != nil {
				t.Fatalf("cut at record boundary %d: %v", cut, err)
			}
		case bounds[cut]:
			if err == nil {
				t.Fatalf("cut at %d, before the first event: no error", cut)
			}
		default:
			if err == nil || !strings.Contains(err.Error(), "torn last record") || !strings.Contains(err.Error(), "(byte ") {
				t.Fatalf("cut at %d, inside a record: %v", cut, err)
			}
		}
	}
}

// recordOffsets returns the offset of every record and the end of the file.
func recordOffsets(t testing.TB, bin []byte) map[int]bool {
	out := map[int]bool{len(bin): true}
	i := len(BinaryMagic) + 1
	for i < len(bin) {
		out[i] = true
		n, next, why := uvarint(bin, i+1)
		if why != "" {
			t.Fatalf("record at %d: %s", i, why)
		}
		i = next + int(n)
	}
	return out
}

// binHeader is a binary history's magic and header record for job src(4) →
// sink(2), and its start event.
func binHeader() []byte {
	hdr := `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":4},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]}}`
	e := NewBinaryEncoder(nil)
	b := e.AppendLine(AppendBinaryMagic(nil), []byte(hdr))
	return e.AppendLine(b, []byte(`{"at":0,"type":"start"}`))
}

func record(kind byte, payload ...byte) []byte {
	return append(appendUvarint([]byte{kind}, uint64(len(payload))), payload...)
}

// TestBinaryStrict feeds malformed binary histories: each is an *Error naming
// the byte offset and the field, never a panic and never a silent skip.
func TestBinaryStrict(t *testing.T) {
	h := binHeader()
	off := len(h)
	for _, c := range []struct {
		name, input, want string
	}{
		{"version", BinaryMagic + "\x02", "f:1 (byte 8): version: binary layout version 2 is not supported"},
		{"no version", BinaryMagic, "f:1 (byte 8): version: the input ends after the binary magic"},
		{"empty", BinaryMagic + "\x01", "f:1 (byte 9): no header"},
		{"run first", BinaryMagic + "\x01" + string(record(binRun, 0, runAck, 0, 1, 0, 1, 0, 1)), "f:1 (byte 10): kind: a run record before the header"},
		{"kind 0", string(h) + "\x00\x00", "(byte " + itoa(off) + "): kind: unknown record kind 0"},
		{"kind 7", string(h) + "\x07\x01x", "kind: unknown record kind 7"},
		{"long", string(h) + "\x01\xff\xff\xff\xff\x0f", "length: 4294967295 bytes: a record is at most 16777216"},
		{"non-minimal length", string(h) + "\x01\x80\x00", "(byte " + itoa(off+1) + "): length: non-minimal varint"},
		{"torn length", string(h) + "\x01\x80", "torn last record: the input ends 2 bytes into the record's length"},
		{"torn payload", string(h) + "\x01\x05abc", "torn last record: the input ends 5 bytes into a record of 7 bytes"},
		{"newline", string(h) + string(record(binLine, []byte("{}\n{}")...)), "line: a line record holds a newline"},
		{"bad line", string(h) + string(record(binLine, []byte(`{"at":1,"type":"nope"}`)...)), "f:3 (byte " + itoa(off) + "): type: unknown event type \"nope\""},
		{"run type", string(h) + string(record(binRun, 1, 9, 0, 1, 0, 1, 0, 1)), "run.type: unknown run event type 9"},
		{"run flags", string(h) + string(record(binRun, 1, runDecline, 2, 1, 0, 0, 1, 0, 1)), "run.flags: flags 0x02"},
		{"run flags high", string(h) + string(record(binRun, 1, runAck, 4, 1, 0, 1, 0, 1)), "run.flags: flags 0x04"},
		{"checkpoint 0", string(h) + string(record(binRun, 1, runAck, 0, 0, 0, 1, 0, 1)), "run.checkpoint: 0 is out of range [1, 9007199254740991]"},
		{"at overflow", string(h) + string(record(binRun, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, runAck, 0, 1, 0, 1, 0, 1)), "run.at: 9223372036854775807 is out of range"},
		{"vertex", string(h) + string(record(binRun, 1, runAck, 0, 1, 2, 1, 0, 1)), "run.vertex: 2 is out of range [0, 1]"},
		{"no ranges", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 0)), "run.ranges: 0 is out of range"},
		{"range start", string(h) + string(record(binRun, 1, runAck, 0, 1, 1, 1, 4, 1)), "run.ranges[0].start: subtask index 2: vertex \"sink\" has 2 subtasks"},
		{"negative start", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 1, 1, 1)), "run.ranges[0].start: subtask index -1"},
		{"range length", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 1, 2, 4)), "run.ranges[0].length: 4 is out of range [1, 3]"},
		{"zero length", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 1, 0, 0)), "run.ranges[0].length: 0 is out of range"},
		{"adjacent ranges", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 2, 0, 1, 0, 1)), "run.ranges[1].start: starts where the previous range ends"},
		{"truncated ranges", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 2, 0, 1)), "run.ranges[1].start: truncated varint"},
		{"trailing", string(h) + string(record(binRun, 1, runAck, 0, 1, 0, 1, 0, 1, 5)), "run: 1 bytes after the run's last field"},
		{"sizes missing", string(h) + string(record(binRun, 1, runAck, runSizes, 1, 0, 1, 0, 2, 7, 7)), "run.sizes[1].state_size: truncated varint"},
		{"reason", string(h) + string(record(binRun, 1, runDecline, 0, 1, 3, 'a', 'b', 'c', 0, 1, 0, 1)), `run.reason: "abc" is not a decline reason`},
		{"reason length", string(h) + string(record(binRun, 1, runDecline, 0, 1, 9, 'a', 0, 1)), "run.reason: truncated run record"},
		{"time backwards", string(h) + string(record(binRun, 5, runAck, 0, 1, 0, 1, 0, 1)) + string(record(binRun, 4, runAck, 0, 1, 0, 1, 0, 1)), "f:4 (byte " + itoa(off+10) + "): at: time goes backwards: 4 after 5 on line 3"},
	} {
		_, err := Decode(strings.NewReader(c.input), "f")
		var he *Error
		if !errors.As(err, &he) || !strings.Contains(err.Error(), c.want) || he.Offset <= 0 {
			t.Errorf("%s: got %v, want an *Error with an offset containing %q", c.name, err, c.want)
		}
	}
	// The valid shapes those cases break decode.
	for _, ok := range [][]byte{
		record(binRun, 1, runAck, 0, 1, 0, 2, 0, 1, 4, 1),                                          // src/0, src/2
		record(binRun, 1, runAck, runSizes|runRecorded, 1, 1, 1, 2, 1, 5, 6),                       // sink/1 with sizes
		record(binRun, 1, runDecline, 0, 1, 8, 'd', 'e', 'c', 'l', 'i', 'n', 'e', 'd', 0, 1, 6, 1), // src/3 declined
		record(binRun, 1, runTaskFinished, 0, 1, 1, 0, 2),                                          // sink/0-1 finished
	} {
		hist, err := Decode(bytes.NewReader(append(append([]byte(nil), h...), ok...)), "f")
		if err != nil {
			t.Errorf("%x: %v", ok, err)
			continue
		}
		if len(hist.Records) < 2 {
			t.Errorf("%x: %d records", ok, len(hist.Records))
		}
	}
}

// TestBinaryEncoderAllocatesNothing holds the encoder's run path, the flight
// recorder's per-ack cost, to no allocation once its buffers have grown.
func TestBinaryEncoderAllocatesNothing(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	e := NewBinaryEncoder(topo)
	buf := make([]byte, 0, 1<<20)
	effs := []fsm.Effect{}
	run := func() {
		for i := range 1000 {
			buf, _ = e.AppendEvent(buf, fsm.Event{At: 5, Type: fsm.EvAck, Checkpoint: 3, Task: fsm.TaskID((i * 7) % 1000)}, StateHandle{}, effs)
		}
		buf = e.Flush(buf)[:0]
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Fatalf("%v allocations per 1000 acks", n)
	}
}
