package flinklog

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// wrapAt cuts every line longer than w characters into rows of w, as a
// terminal of width w shows it (and a copy from it keeps).
func wrapAt(text string, w int) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		for utf8.RuneCountInString(l) > w {
			r := []rune(l)
			b.WriteString(string(r[:w]) + "\n")
			l = string(r[w:])
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

var reLogLine = regexp.MustCompile(`log line \d+`)

func rowsNoLines(rows []CheckpointRow) string {
	var out []string
	for _, r := range rows {
		r.Line, r.LogLine = 0, 0
		out = append(out, fmt.Sprintf("%+v", r))
	}
	return strings.Join(out, "\n")
}

func historyText(t *testing.T, im *Import) string {
	t.Helper()
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "{") || strings.HasPrefix(l, "//claim ") {
			// Physical line numbers move when rows are joined.
			events = append(events, reLogLine.ReplaceAllString(l, "log line N"))
		}
	}
	return strings.Join(events, "\n")
}

// TestWrappedLogImportsAsTheOriginal: a log copied from a terminal of any of
// these widths imports to the same events, claims, checkpoint rows and line
// counts as the log itself; only the count of joined lines differs.
func TestWrappedLogImportsAsTheOriginal(t *testing.T) {
	forward := DefaultOptions()
	forward.Edges = EdgesForward
	for _, fix := range []string{"log4j2-1.17-region-failover.log", "log4j1-1.10-decline.log", "log4j2-1.15-trigger-failed.log",
		"logback-1.10-two-jobs.log", "log4j2-1.13-savepoint-restore.log"} {
		orig := readFixture(t, fix)
		want, _ := importBytes(t, fix, []byte(orig), forward)
		for _, w := range []int{80, 100, 133, 160} {
			t.Run(fmt.Sprintf("%s@%d", fix, w), func(t *testing.T) {
				got, _ := importBytes(t, fix, []byte(wrapAt(orig, w)), forward)
				if g, x := historyText(t, got), historyText(t, want); g != x {
					t.Errorf("the wrapped log imports differently:\n%s\nwant\n%s", g, x)
				}
				if rowsNoLines(got.Checkpoints) != rowsNoLines(want.Checkpoints) {
					t.Errorf("rows %+v, want %+v", got.Checkpoints, want.Checkpoints)
				}
				gs, ws := got.Stats, want.Stats
				if gs.Joined == 0 || gs.Records != ws.Records || gs.CheckpointLines != ws.CheckpointLines || gs.Understood != ws.Understood ||
					gs.Annotated != ws.Annotated || gs.NotUnderstood != ws.NotUnderstood {
					t.Errorf("stats %+v, want %+v", gs, ws)
				}
			})
		}
	}
}

// TestWrappedDeclineBlamesItsSubtask: cut inside the attempt id of a decline,
// the line used to continue the record before it, and the decline was put on
// another subtask; joined, it is put on the subtask that declined.
func TestWrappedDeclineBlamesItsSubtask(t *testing.T) {
	opt := DefaultOptions()
	opt.Edges = EdgesForward
	orig := readFixture(t, "log4j2-1.17-region-failover.log")
	wrapped := wrapAt(orig, 140)
	blame := func(im *Import) string {
		for _, r := range im.Checkpoints {
			if r.LogID == 5 {
				return r.Note
			}
		}
		return ""
	}
	want, _ := importBytes(t, "f.log", []byte(orig), opt)
	got, _ := importBytes(t, "f.log", []byte(wrapped), opt)
	opt.WrapWidth = -1
	unjoined, err := ImportLog(strings.NewReader(wrapped), "f.log", opt)
	if err != nil {
		t.Fatal(err)
	}
	if blame(got) != blame(want) || !strings.Contains(blame(want), "declined by") {
		t.Errorf("joined: %q, want %q", blame(got), blame(want))
	}
	if blame(unjoined) == blame(want) {
		t.Errorf("without joining the decline is still put on %q: the fixture no longer cuts the attempt id", blame(want))
	}
	if got.Stats.Joined == 0 || unjoined.Stats.Joined != 0 {
		t.Errorf("joined %d and %d lines", got.Stats.Joined, unjoined.Stats.Joined)
	}
}

// TestUnwrapLeavesUnwrappedLogsAlone: records of equal, maximal length followed
// by exception text are not a terminal's rows.
func TestUnwrapLeavesUnwrappedLogsAlone(t *testing.T) {
	for _, fix := range []string{"log4j2-1.17-region-failover.log", "log4j1-1.10-decline.log", "log4j2-1.15-trigger-failed.log",
		"logback-1.10-two-jobs.log", "log4j2-1.13-savepoint-restore.log", "log4j1-1.9-notready.log", "log4j2-1.12-expired-tolerable.log"} {
		lf, err := readLog(strings.NewReader(readFixture(t, fix)), 0)
		if err != nil || lf.joined != 0 {
			t.Errorf("%s: %v, %d lines joined at width %d", fix, err, lf.joined, lf.wrapWidth)
		}
	}
}
