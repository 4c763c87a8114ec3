package main

import (
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// A history that breaks an invariant is minimized to standard output (exit
// 1), for the invariant the replay names first unless --invariant says.
func TestMinimizeWritesTheSmallerHistory(t *testing.T) {
	var asked string
	fake := func(a *app) {
		a.replay = func(h *history.History, opt history.Options) (*history.Result, error) {
			res, err := history.Replay(h, opt)
			if err == nil {
				res.Summary.Violations = append(res.Summary.Violations,
					history.Violation{Invariant: "I-NoLeak", Line: 6}, history.Violation{Invariant: "I-NotifySafety", Line: 6})
			}
			return res, err
		}
		a.minimize = func(h *history.History, inv string) (*history.History, error) {
			asked = inv
			min := *h
			min.Records = h.Records[:2]
			return &min, nil
		}
	}
	path := writeTemp(t, "f.jsonl", valid)
	code, out, errOut := ckptApp(t, fake, "", "minimize", path)
	if code != 1 || asked != "I-NoLeak" || !strings.Contains(errOut, "still breaks I-NoLeak (4 -> 2 events)") {
		t.Fatalf("exit %d, invariant %q, stderr %q", code, asked, errOut)
	}
	h, err := history.Decode(strings.NewReader(out), "out")
	if err != nil || len(h.Records) != 2 || !strings.HasPrefix(out, "// minimized from "+path) {
		t.Fatalf("stdout is not the minimized history (%v):\n%s", err, out)
	}
	if code, _, _ := ckptApp(t, fake, "", "minimize", "--invariant", "I-NotifySafety", path); code != 1 || asked != "I-NotifySafety" {
		t.Errorf("--invariant: exit %d, minimized for %q", code, asked)
	}
	if code, out, errOut := ckptApp(t, fake, "", "minimize", "--invariant", "I-MonotonicIds", path); code != 0 || out != "" ||
		!strings.Contains(errOut, "does not break I-MonotonicIds (it breaks I-NoLeak, I-NotifySafety)") {
		t.Errorf("an invariant that holds: exit %d, %q %q", code, out, errOut)
	}
}

// With the real core, a valid history breaks nothing: exit 0, nothing written.
func TestMinimizeNothingToDo(t *testing.T) {
	path := writeTemp(t, "ok.jsonl", valid)
	code, out, errOut := ckpt(t, "", "minimize", path)
	if code != 0 || out != "" || !strings.Contains(errOut, "every invariant held") {
		t.Errorf("exit %d, %q %q", code, out, errOut)
	}
	for _, args := range [][]string{{"--invariant", "I-Nope", path}, {path, path}, {"-"}} {
		if code, _, errOut := ckpt(t, "{", append([]string{"minimize"}, args...)...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// minimize reads flight files that start with a resume (v1.1) or snapshot
// (v1.3) record: it keeps that record and writes the minimized history from
// it, in the file's format; with the real core they break nothing.
func TestMinimizeFlightFiles(t *testing.T) {
	fake := func(a *app) {
		a.replay = func(h *history.History, opt history.Options) (*history.Result, error) {
			res, err := history.Replay(h, opt)
			if err == nil {
				res.Summary.Violations = append(res.Summary.Violations, history.Violation{Invariant: "I-NoLeak", Line: 4})
			}
			return res, err
		}
		a.minimize = func(h *history.History, inv string) (*history.History, error) {
			min := *h
			min.Records = h.Records[:2]
			return &min, nil
		}
	}
	for _, file := range []string{"resume.jsonl", "snapshot.jsonl"} {
		path := flightFixture(file)
		code, out, errOut := ckptApp(t, fake, "", "minimize", path)
		h, err := history.Decode(strings.NewReader(out), "out")
		if code != 1 || err != nil || len(h.Records) != 2 || h.Records[0].Resume == nil && h.Records[0].Snapshot == nil {
			t.Fatalf("%s: exit %d %s (%v):\n%s", file, code, errOut, err, out)
		}
		if code, out, errOut := ckpt(t, "", "minimize", path); code != 0 || out != "" || !strings.Contains(errOut, "every invariant held") {
			t.Errorf("%s with the real core: exit %d, %q %q", file, code, out, errOut)
		}
		if code, _, errOut := ckpt(t, "", "minimize", "--invariant", "panic", path); code != 2 || !strings.Contains(errOut, "does not break panic") {
			t.Errorf("%s --invariant panic: exit %d, %q", file, code, errOut)
		}
	}
}
