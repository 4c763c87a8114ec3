package fuzz

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// Minimizing a flight file (history/testdata/flight, written by the driver's
// flight recorder) keeps its first record — a resume record after a restart,
// a snapshot record after a rotation — and shrinks the events after it to a
// 1-minimal set that still has the property; the written result starts with
// the same record and decodes.
func TestMinimizeFlightFiles(t *testing.T) {
	for _, c := range []struct {
		file    string
		abort   int64 // the property: this checkpoint is aborted
		maxKept int   // events the minimal history may keep after its first record
	}{
		// After the resume, 3 must complete (max_concurrent 1) before 4 is
		// triggered and declined: 1 tick + 4 acks + persisted + 1 tick + the decline.
		{"resume.jsonl", 4, 8},
		// Checkpoint 10 is pending in the snapshot: its decline alone.
		{"snapshot-pending-declined.jsonl", 10, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			h := readHistory(t, "../history/testdata/flight/"+c.file)
			aborts := func(topo *fsm.Topology, cfg fsm.Config, first history.Record, evs []fsm.Event) bool {
				s, _, _, err := startCore(topo, cfg, first)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					effs, err := s.Step(ev)
					if err != nil {
						return false
					}
					for _, e := range effs {
						if e.Type == fsm.EffAbort && e.Checkpoint == c.abort {
							return true
						}
					}
				}
				return false
			}
			min, err := minimizeFrom(h, "abort", aborts)
			if err != nil {
				t.Fatal(err)
			}
			first := min.Records[0]
			if first.Resume != h.Records[0].Resume || first.Snapshot != h.Records[0].Snapshot || first.HasRecorded {
				t.Fatalf("the first record is not kept as it is: %+v", first)
			}
			var evs []fsm.Event
			for _, r := range min.Records[1:] {
				evs = append(evs, r.Event)
			}
			if len(evs) > c.maxKept || len(evs) >= len(h.Records)-1 {
				t.Errorf("kept %d of %d events, want at most %d", len(evs), len(h.Records)-1, c.maxKept)
			}
			for i := range evs {
				fewer := append(append([]fsm.Event(nil), evs[:i]...), evs[i+1:]...)
				if aborts(h.Topology, h.Header.Config, first, fewer) {
					t.Errorf("not 1-minimal: %s can go", fsm.DescribeEvent(h.Topology, evs[i]))
				}
			}
			var buf bytes.Buffer
			if err := WriteHistory(&buf, min, "minimized"); err != nil {
				t.Fatal(err)
			}
			back, err := history.Decode(&buf, "min.jsonl")
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			if back.Header.Format != h.Header.Format || (back.Records[0].Resume == nil) != (first.Resume == nil) ||
				(back.Records[0].Snapshot == nil) != (first.Snapshot == nil) || len(back.Records) != len(min.Records) {
				t.Fatalf("written as %s with %d records:\n%s", back.Header.Format, len(back.Records), buf.String())
			}
			if !aborts(back.Topology, back.Header.Config, back.Records[0], evs) {
				t.Fatal("the written history lost the property")
			}
			// Minimize with the real invariants: a flight file of a correct
			// core breaks none, which is what it says (not that it cannot
			// read the file).
			if _, err := Minimize(h, invariants.NoLeak); err == nil || !strings.Contains(err.Error(), "does not break") {
				t.Fatalf("Minimize for an invariant that holds: %v", err)
			}
		})
	}
}
