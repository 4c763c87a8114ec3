package flinklog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// flightWhatIf runs what-if (max_failure_ratio 0.5) on a flight file of
// history/testdata/flight (written by the driver's flight recorder: a job with
// regional checkpoints off, two regions, some checkpoints declined by one
// subtask, files cut by a restart and by rotation).
func flightWhatIf(t *testing.T, name string) (*history.History, *WhatIfReport) {
	t.Helper()
	h, err := history.ReadFile("../history/testdata/flight/" + name)
	if err != nil {
		t.Fatal(err)
	}
	in := HistoryWhatIfInput(h)
	if in.First == nil || len(in.Events) != len(h.Records)-1 {
		t.Fatalf("%s: the first record is not split off: %+v", name, in.First)
	}
	o := DefaultWhatIfOptions()
	o.MaxFailureRatio = 0.5
	rep, err := WhatIf(in, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) > 0 {
		t.Fatalf("%s: violations %q", name, rep.Violations)
	}
	return h, rep
}

// idRows renders rows as "id:recorded>regional[refs]".
func idRows(rep *WhatIfReport) string {
	var out []string
	for _, r := range rep.Rows {
		var refs []string
		for _, ref := range r.Refs {
			refs = append(refs, fmt.Sprintf("%s->%d", ref.Region, ref.Checkpoint))
		}
		out = append(out, fmt.Sprintf("%d:%s>%s[%s]", r.ID, r.Recorded, r.Regional, strings.Join(refs, " ")))
	}
	return strings.Join(out, ", ")
}

// What-if reads flight files that start with a resume record (v1.1, after a
// restart) or a snapshot record (v1.3, after a rotation), re-runs the events
// after it from the same state under regional mode, and writes the regional
// run as a history that starts from the same kind of record and replays with
// every invariant holding.
func TestWhatIfFlightFiles(t *testing.T) {
	for _, c := range []struct {
		file, rows, totals, note string
	}{
		// Resumed with checkpoint 1 in the store: 4 and 6 fall back to the
		// previous checkpoint for region r1.
		{"resume.jsonl", "4:aborted (declined)>completed (regional)[r1->3], 6:aborted (declined)>completed (regional)[r1->5]",
			"failed 2 saved 2 completed 2/4 lost 0", ""},
		// Rotated after checkpoint 7 completed: nothing pending, 8 falls back to 7.
		{"snapshot.jsonl", "8:aborted (declined)>completed (regional)[r1->7]", "failed 1 saved 1 completed 0/1 lost 0", ""},
		// Rotated while 9 was pending (one ack in): it completes in both runs.
		{"snapshot-pending-completes.jsonl", "", "failed 0 saved 0 completed 1/1 lost 0", "global path: checkpoint 9;"},
		// Rotated while 10 was pending on the global path: it keeps that
		// path under the new configuration (R17), so a decline still aborts it.
		{"snapshot-pending-declined.jsonl", "10:aborted (declined)>aborted (declined)[]", "failed 1 saved 0 completed 0/0 lost 0",
			"global path: checkpoint 10;"},
	} {
		t.Run(c.file, func(t *testing.T) {
			h, rep := flightWhatIf(t, c.file)
			if got := idRows(rep); got != c.rows {
				t.Errorf("rows\n got %s\nwant %s", got, c.rows)
			}
			tt := rep.Totals
			if got := fmt.Sprintf("failed %d saved %d completed %d/%d lost %d", tt.Failed, tt.Saved, tt.Completed, tt.CompletedAlt, tt.Lost); got != c.totals {
				t.Errorf("totals %s, want %s", got, c.totals)
			}
			if notes := strings.Join(rep.Notes, "\n"); (c.note == "") != !strings.Contains(notes, "global path") || !strings.Contains(notes, c.note) {
				t.Errorf("notes %q, want %q", notes, c.note)
			}
			var b bytes.Buffer
			if err := rep.WriteRegionalHistory(&b); err != nil {
				t.Fatal(err)
			}
			reg, err := history.Decode(&b, "regional")
			if err != nil {
				t.Fatalf("the regional history does not decode: %v\n%s", err, b.String())
			}
			first := reg.Records[0]
			if reg.Header.Format != h.Header.Format || (first.Resume != nil) != (h.Records[0].Resume != nil) ||
				(first.Snapshot != nil) != (h.Records[0].Snapshot != nil) || first.Event.At != h.Records[0].Event.At {
				t.Fatalf("the regional history starts with %s %+v, the flight file with %s %+v", reg.Header.Format, first, h.Header.Format, h.Records[0])
			}
			if s := first.Snapshot; s != nil && (!s.Config().Regional.Enabled || s.Config() != reg.Header.Config) {
				t.Errorf("the regional snapshot runs under %+v, the header says %+v", s.Config(), reg.Header.Config)
			}
			if !reg.Header.Config.Regional.Enabled || reg.Header.Config.Regional.MaxFailureRatio != 0.5 {
				t.Errorf("regional header config %+v", reg.Header.Config.Regional)
			}
			res, err := history.Replay(reg, history.Options{Check: true})
			if err != nil || len(res.Summary.Violations) > 0 {
				t.Fatalf("the regional history replays with %v, %+v", err, res.Summary.Violations)
			}
		})
	}
}
