package checkpointstorage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// sample is a regional checkpoint 7 of a job src(2) -> sink(2) pointwise (two
// regions): region 1 failed and uses checkpoint 5's state.
func sample() *CheckpointMetadata {
	return &CheckpointMetadata{
		Job: "job-1", Checkpoint: 7, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional,
		TriggeredMs: 1000, CompletedMs: 1500, Consecutive: 2,
		Vertices: []Vertex{{"src", 2}, {"sink", 2}},
		Subtasks: []SubtaskState{
			{Task: "src/0", Region: 0, Ref: 7, Handle: history.StateHandle{URI: "file:///s/chk-7/src-0", Size: 10}},
			{Task: "src/1", Region: 1, Ref: 5, Handle: history.StateHandle{Inline: []byte("abc"), Size: 3}},
			{Task: "sink/0", Region: 0, Ref: 7},
			{Task: "sink/1", Region: 1, Ref: 5, Handle: history.StateHandle{Inline: []byte{}, Size: 0}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	data, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip changed the metadata:\n got %+v\nwant %+v", got, m)
	}
	again, _ := Encode(got)
	if !bytes.Equal(again, data) {
		t.Fatalf("encoding is not canonical:\n%s\n%s", data, again)
	}
}

// TestRoundTripRandom round-trips random valid metadata: random shapes,
// regions, refs and handles of every kind, including the bounds.
func TestRoundTripRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		m := randomMetadata(rnd)
		data, err := Encode(m)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, data)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("case %d: round trip changed the metadata:\n got %+v\nwant %+v", i, got, m)
		}
	}
}

func randomMetadata(rnd *rand.Rand) *CheckpointMetadata {
	m := &CheckpointMetadata{Job: "j" + strconv.Itoa(rnd.IntN(100)), Checkpoint: 1 + rnd.Int64N(fsm.MaxSafeInt),
		TriggeredMs: rnd.Int64N(1 << 50)}
	if rnd.IntN(10) == 0 {
		m.Checkpoint = fsm.MaxSafeInt
	}
	m.CompletedMs = m.TriggeredMs + rnd.Int64N(1000)
	nv := 1 + rnd.IntN(3)
	for v := 0; v < nv; v++ {
		m.Vertices = append(m.Vertices, Vertex{ID: "v" + strconv.Itoa(v), Parallelism: 1 + rnd.IntN(4)})
	}
	regions := 1 + rnd.IntN(3)
	refs := make([]int64, regions)
	for r := range refs {
		refs[r] = m.Checkpoint
		if m.Checkpoint > 1 && rnd.IntN(3) == 0 {
			refs[r] = 1 + rnd.Int64N(m.Checkpoint-1)
		}
	}
	older := false
	for _, v := range m.Vertices {
		for i := 0; i < v.Parallelism; i++ {
			r := rnd.IntN(regions)
			older = older || refs[r] < m.Checkpoint
			s := SubtaskState{Task: v.ID + "/" + strconv.Itoa(i), Region: r, Ref: refs[r]}
			switch rnd.IntN(4) {
			case 1:
				s.Handle = history.StateHandle{URI: "s3://bucket/" + strings.Repeat("x", rnd.IntN(3000)) + "/é\"\\", Size: rnd.Int64N(fsm.MaxSafeInt + 1)}
			case 2:
				b := make([]byte, rnd.IntN(200))
				for k := range b {
					b[k] = byte(rnd.IntN(256))
				}
				s.Handle = history.StateHandle{Inline: b, Size: int64(len(b))}
			case 3:
				s.Handle = history.StateHandle{Size: 1 + rnd.Int64N(100)}
			}
			m.Subtasks = append(m.Subtasks, s)
		}
	}
	// Number the regions used 0, 1, ... in order of first use (R3: no gaps).
	dense := map[int]int{}
	for i := range m.Subtasks {
		r, ok := dense[m.Subtasks[i].Region]
		if !ok {
			r = len(dense)
			dense[m.Subtasks[i].Region] = r
		}
		m.Subtasks[i].Region = r
	}
	m.Kind = fsm.KindCheckpoint
	switch {
	case older:
		m.Mode, m.Consecutive = fsm.ModeRegional, 1+rnd.IntN(5)
	case rnd.IntN(4) == 0:
		m.Kind, m.Consecutive = fsm.KindSavepoint, rnd.IntN(3)
	}
	return m
}

// TestDecodeRejects: every way a file can be malformed is refused with an
// error that names the field and, where there is one, the value.
func TestDecodeRejects(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	text := string(good)
	sub := func(old, new string) string {
		if !strings.Contains(text, old) {
			t.Fatalf("fixture has no %q", old)
		}
		return strings.Replace(text, old, new, 1)
	}
	bigInline := `"inline":"` + strings.Repeat("A", (history.MaxInlineStateBytes/3+2)*4) + `"`
	cases := []struct{ name, data, want string }{
		{"empty", "", "malformed JSON"},
		{"not an object", "[]", "want an object"},
		{"trailing data", text + "{}", "data after the JSON object"},
		{"unknown field", sub(`"job":`, `"extra":1,"job":`), "extra: unknown field"},
		{"duplicate field", sub(`"job":"job-1"`, `"job":"job-1","job":"job-2"`), "job: duplicate field"},
		{"other format", sub(Format, "ckpt-checkpoint-metadata/v9"), `format: "ckpt-checkpoint-metadata/v9": not supported`},
		{"missing format", sub(`"format":"`+Format+`",`, ""), "format: missing required field"},
		{"missing subtasks", text[:strings.Index(text, `,`+"\n"+`"subtasks"`)] + "}", "subtasks: missing required field"},
		{"bad job", sub(`"job":"job-1"`, `"job":"../x"`), `job: "../x"`},
		{"id zero", sub(`"checkpoint":7`, `"checkpoint":0`), "checkpoint: 0: want an integer in [1, 9007199254740991]"},
		{"id too big", sub(`"checkpoint":7`, `"checkpoint":9007199254740992`), "checkpoint: 9007199254740992"},
		{"id float", sub(`"checkpoint":7`, `"checkpoint":7.0`), "checkpoint: 7.0: want an integer"},
		{"id string", sub(`"checkpoint":7`, `"checkpoint":"7"`), "checkpoint"},
		{"kind", sub(`"kind":"checkpoint"`, `"kind":"snapshot"`), `kind: "snapshot"`},
		{"mode", sub(`"mode":"regional"`, `"mode":"partial"`), `mode: "partial"`},
		{"global with older refs", sub(`"mode":"regional"`, `"mode":"global"`), "consecutive: 2: a global checkpoint resets the count"},
		{"negative time", sub(`"triggered_ms":1000`, `"triggered_ms":-1`), "triggered_ms: -1"},
		{"completed before triggered", sub(`"completed_ms":1500`, `"completed_ms":999`), "completed_ms: 999: before triggered_ms 1000"},
		{"consecutive zero when regional", sub(`"consecutive":2`, `"consecutive":0`), "consecutive: 0: a regional completion counts itself"},
		{"no vertices", sub(`"vertices":[{"id":"src","parallelism":2},{"id":"sink","parallelism":2}]`, `"vertices":[]`), "vertices: []"},
		{"duplicate vertex", sub(`{"id":"sink","parallelism":2}`, `{"id":"src","parallelism":2}`), `vertices[1].id: "src": listed twice`},
		{"zero parallelism", sub(`"parallelism":2}]`, `"parallelism":0}]`), "vertices[1].parallelism: 0"},
		{"vertex unknown field", sub(`{"id":"src",`, `{"x":1,"id":"src",`), "vertices[0].x: unknown field"},
		{"subtask missing", sub(`,`+"\n"+`{"task":"sink/1"`, `]}`+"\n"+`{"task":"sink/1"`), ""},
		{"subtask out of order", sub(`"task":"src/0"`, `"task":"src/1"`), `subtasks[0].task: "src/1": want "src/0"`},
		{"subtask unknown field", sub(`{"task":"src/0",`, `{"task":"src/0","owner":"x",`), "subtasks[0].owner: unknown field"},
		{"region negative", sub(`"task":"src/0","region":0`, `"task":"src/0","region":-1`), "subtasks[0].region: -1"},
		{"ref newer", sub(`"task":"src/0","region":0,"ref":7`, `"task":"src/0","region":0,"ref":8`), "subtasks[0].ref: 8: want a checkpoint id in [1, 7]"},
		{"region gap", sub(`"task":"sink/1","region":1`, `"task":"sink/1","region":3`), "subtasks: r2: no subtask is in this region"},
		{"ref zero", sub(`"task":"src/0","region":0,"ref":7`, `"task":"src/0","region":0,"ref":0`), "subtasks[0].ref: 0"},
		{"region disagrees", sub(`"task":"sink/0","region":0,"ref":7`, `"task":"sink/0","region":0,"ref":5`), "subtasks[2].ref: 5: region r0 uses checkpoint 7"},
		{"uri and inline", sub(`"uri":"file:///s/chk-7/src-0"`, `"uri":"file:///s/chk-7/src-0","inline":"YQ=="`), "subtasks[0].state.uri"},
		{"empty uri", sub(`"uri":"file:///s/chk-7/src-0"`, `"uri":""`), `subtasks[0].state.uri: "": empty`},
		{"zero handle", sub(`"uri":"file:///s/chk-7/src-0","size":10`, `"size":0`), `subtasks[0].state.size: 0: a handle with no uri`},
		{"long uri", sub(`"uri":"file:///s/chk-7/src-0"`, `"uri":"`+strings.Repeat("u", history.MaxHandleURIBytes+1)+`"`), "subtasks[0].state.uri"},
		{"control char uri", sub(`"uri":"file:///s/chk-7/src-0"`, `"uri":"a\nb"`), "control character"},
		{"bad base64", sub(`"inline":"YWJj"`, `"inline":"YWJ*"`), `subtasks[1].state.inline: "YWJ*": not standard base64`},
		{"inline too big", sub(`"inline":"YWJj"`, bigInline), "subtasks[1].state.inline"},
		{"inline size mismatch", sub(`"inline":"YWJj","size":3`, `"inline":"YWJj","size":4`), "subtasks[1].state.size: 4: inline state has 3 bytes"},
		{"size too big", sub(`"size":10`, `"size":9007199254740992`), "subtasks[0].state.size: 9007199254740992"},
		{"size negative", sub(`"size":10`, `"size":-1`), "subtasks[0].state.size: -1"},
		{"size missing", sub(`"uri":"file:///s/chk-7/src-0","size":10`, `"uri":"file:///s/chk-7/src-0"`), "subtasks[0].state.size: missing required field"},
		{"state unknown field", sub(`"size":10`, `"size":10,"owner":1`), "subtasks[0].state.owner"},
		{"state not object", sub(`"state":{"uri":"file:///s/chk-7/src-0","size":10}`, `"state":"file:///x"`), "subtasks[0].state: want an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Decode([]byte(c.data))
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestReadMetadataNamesTheFile: the reader's errors start with the file.
func TestReadMetadataNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetadataFile)
	if err := os.WriteFile(path, []byte(`{"format":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadMetadata(path)
	if err == nil || !strings.Contains(err.Error(), path+`: format: "x": not supported`) {
		t.Fatalf("got %v", err)
	}
	big := filepath.Join(t.TempDir(), MetadataFile)
	f, _ := os.Create(big)
	f.Truncate(MaxMetadataBytes + 1)
	f.Close()
	if _, err := ReadMetadata(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a file over the bound: got %v", err)
	}
	if _, err := ReadMetadata(filepath.Join(t.TempDir(), "none")); !IsNotExist(err) {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	m := sample()
	m.Subtasks[0].Ref = 6 // region r0 would use two checkpoints
	if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), "subtasks[2].ref: 7") {
		t.Fatalf("got %v", err)
	}
	m = sample()
	m.Mode = fsm.ModeGlobal
	m.Consecutive = 0
	if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), "mode: global") {
		t.Fatalf("got %v", err)
	}
}

func TestRestoreRegion(t *testing.T) {
	m := sample()
	r1, err := m.RestoreRegion(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r1) != 2 || r1[0].Task != "src/1" || r1[1].Task != "sink/1" || r1[0].Ref != 5 || string(r1[0].Handle.Inline) != "abc" {
		t.Fatalf("region 1: %+v", r1)
	}
	if _, err := m.RestoreRegion(2); err == nil {
		t.Fatal("a region the file does not have restored")
	}
	if ref, ok := m.RefOfRegion(0); !ok || ref != 7 || m.NumRegions() != 2 {
		t.Fatalf("RefOfRegion(0) = %d %v, NumRegions %d", ref, ok, m.NumRegions())
	}
	s, err := m.RestoreSubtask("src/0")
	if err != nil || s.Handle.URI != "file:///s/chk-7/src-0" {
		t.Fatalf("src/0: %+v %v", s, err)
	}
	if _, err := m.RestoreSubtask("src/9"); err == nil {
		t.Fatal("an unknown subtask restored")
	}
}
