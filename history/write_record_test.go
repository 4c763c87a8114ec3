package history

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
)

// The flight fixtures (testdata/flight: files the driver's flight recorder
// wrote after a restart and after rotations) replay alone with no invariant
// broken and no recorded effect diverging; WriteRecord writes each back, its
// first record as a resume or snapshot record, to a history that replays to
// the same end.
func TestWriteRecordFlightFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/flight/*.jsonl")
	if err != nil || len(files) < 4 {
		t.Fatalf("%d fixtures (%v)", len(files), err)
	}
	for _, f := range files {
		h, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if h.Records[0].Resume == nil && h.Records[0].Snapshot == nil {
			t.Errorf("%s starts with neither a resume nor a snapshot record", f)
		}
		res, err := Replay(h, Options{Check: true})
		if err != nil || res.Divergence != nil || len(res.Summary.Violations) > 0 {
			t.Fatalf("%s: %v %+v %+v", f, err, res.Divergence, res.Summary.Violations)
		}
		var b bytes.Buffer
		w, err := NewWriter(&b, h.Header)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h.Records {
			if err := w.WriteRecord(r); err != nil {
				t.Fatal(err)
			}
		}
		back, err := Decode(&b, "back")
		if err != nil {
			t.Fatalf("%s written back: %v\n%s", f, err, b.String())
		}
		if (back.Records[0].Resume == nil) != (h.Records[0].Resume == nil) || len(back.Records) != len(h.Records) {
			t.Fatalf("%s written back: %d records, first %+v", f, len(back.Records), back.Records[0])
		}
		res2, err := Replay(back, Options{Check: true})
		if err != nil || !reflect.DeepEqual(res2.Summary, res.Summary) {
			t.Fatalf("%s written back replays to %+v (%v), the file to %+v", f, res2.Summary, err, res.Summary)
		}
	}
}
