//go:build ckpt_mutants

package fuzz

// The harness proves it can fail: each known bug of fsm/mutants_on.go must be
// caught by both the explorer and the rapid property, and named by the
// invariant it breaks. CI runs: go test -tags ckpt_mutants -run Mutant ./fuzz/

import (
	"bytes"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
	"pgregory.net/rapid"
)

// mutantInvariants is what each mutant must be reported as. keep_failed_acks
// has two faces: after a failover the kept acks are orphan state
// (I-NoOrphanState); after a decline, with no failover, they make the
// completion notify subtasks of a region that uses older state
// (I-NotifySafety). rapid meets the second in about one run in eight.
var mutantInvariants = map[string][]string{
	fsm.MutantNoTierTwoReset:    {invariants.TierTwoReset},
	fsm.MutantKeepFailedAcks:    {invariants.NoOrphanState, invariants.NotifySafety},
	fsm.MutantDiscardReferenced: {invariants.RetentionSafety, invariants.RegionConsistency},
	fsm.MutantNoRedeadline:      {invariants.ConfigAtomic},
}

func TestMutantsCaught(t *testing.T) {
	if len(mutantInvariants) != len(fsm.Mutants) {
		t.Fatalf("fsm has mutants %v; this test knows %d of them", fsm.Mutants, len(mutantInvariants))
	}
	// rapid's own fail files would land in testdata/rapid for a fake test name,
	// and a 30 s shrink per mutant is more than the point needs.
	setFlag(t, "rapid.nofailfile", "true")
	setFlag(t, "rapid.shrinktime", "5s")
	setFlag(t, "rapid.checks", "10000")
	setFlag(t, "rapid.steps", "100")
	for _, name := range fsm.Mutants {
		want := mutantInvariants[name]
		t.Run(name, func(t *testing.T) {
			fsm.DisableMutants()
			fsm.EnableMutant(name)
			t.Cleanup(fsm.DisableMutants)
			t.Run("explore", func(t *testing.T) { exploreFinds(t, want) })
			t.Run("rapid", func(t *testing.T) { rapidFinds(t, want) })
		})
	}
}

// exploreFinds explores the CI models until one yields a counterexample, which
// must name an expected invariant and replay (history.Replay) to the same one.
func exploreFinds(t *testing.T, want []string) {
	for _, m := range ciModels() {
		res := Explore(m, Limits{Ignore: ignoreKnownIssues})
		cx := res.Violation
		if cx == nil {
			continue
		}
		if !slices.Contains(want, cx.Invariant) {
			t.Fatalf("model %s: %s after %d events, want one of %v:\n%s", m.Name, cx.Invariant, len(cx.Events), want, cx.Detail)
		}
		var buf bytes.Buffer
		if err := cx.WriteHistory(&buf); err != nil {
			t.Fatal(err)
		}
		replayFinds(t, buf.Bytes(), cx.Invariant)
		t.Logf("model %s: %s after %d events (%d nodes)", m.Name, cx.Invariant, len(cx.Events), res.Nodes)
		return
	}
	t.Fatalf("no CI model finds the mutant (want %v)", want)
}

// rapidFinds runs the rapid property against a recording TB: rapid must report
// a failure, and the last (shrunk) failing run must name an expected invariant
// and replay to it.
func rapidFinds(t *testing.T, want []string) {
	rec := &recorder{}
	tb := &recordingTB{name: t.Name()}
	rapid.Check(tb, property(machineOptions{}, rec))
	if !tb.failed || rec.last == nil {
		t.Fatalf("rapid found nothing (want %v):\n%s", want, tb.log.String())
	}
	if !slices.Contains(want, rec.last.invariant) {
		t.Fatalf("rapid reports %s, want one of %v:\n%s", rec.last.invariant, want, rec.last.detail)
	}
	replayFinds(t, rec.last.history, rec.last.invariant)
	t.Logf("rapid: %s (%s)", rec.last.invariant, firstLine(tb.log.String()))

	// The minimizer keeps the failure and never grows the history.
	h, err := history.Decode(bytes.NewReader(rec.last.history), "rapid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	min, err := Minimize(h, rec.last.invariant)
	if err != nil {
		t.Fatal(err)
	}
	if len(min.Records) > len(h.Records) {
		t.Fatalf("minimized %d events to %d", len(h.Records), len(min.Records))
	}
	var buf bytes.Buffer
	if err := WriteHistory(&buf, min, "minimized"); err != nil {
		t.Fatal(err)
	}
	replayFinds(t, buf.Bytes(), rec.last.invariant)
	t.Logf("minimized %d events to %d", len(h.Records), len(min.Records))
}

// replayFinds checks that a written history reproduces the invariant under
// history.Replay, as cmd/replay would.
func replayFinds(t *testing.T, file []byte, invariant string) {
	t.Helper()
	h, err := history.Decode(bytes.NewReader(file), "counterexample.jsonl")
	if err != nil {
		t.Fatalf("the counterexample does not decode: %v\n%s", err, file)
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil {
		t.Fatalf("the counterexample does not replay: %v", err)
	}
	for _, v := range res.Summary.Violations {
		if v.Invariant == invariant {
			return
		}
	}
	t.Fatalf("replaying the counterexample reports %v, not %s:\n%s", res.Summary.Violations, invariant, file)
}

func setFlag(t *testing.T, name, value string) {
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("no flag %s", name)
	}
	old := f.Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set(name, old) })
}

// recordingTB is a rapid.TB that records a failure instead of failing the
// test: rapid.Check reports through Errorf and ends with FailNow, which here
// returns, so the test can look at what was found.
type recordingTB struct {
	name   string
	failed bool
	log    strings.Builder
}

func (r *recordingTB) Helper()                         {}
func (r *recordingTB) Name() string                    { return r.name }
func (r *recordingTB) Logf(format string, args ...any) { fmt.Fprintf(&r.log, format+"\n", args...) }
func (r *recordingTB) Log(args ...any)                 { fmt.Fprintln(&r.log, args...) }
func (r *recordingTB) Skipf(format string, args ...any) {
	panic("recordingTB: rapid skipped: " + fmt.Sprintf(format, args...))
}
func (r *recordingTB) Skip(args ...any)                  { panic(fmt.Sprint("recordingTB: rapid skipped: ", args)) }
func (r *recordingTB) SkipNow()                          { panic("recordingTB: rapid skipped") }
func (r *recordingTB) Errorf(format string, args ...any) { r.failed = true; r.Logf(format, args...) }
func (r *recordingTB) Error(args ...any)                 { r.failed = true; r.Log(args...) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.failed = true; r.Logf(format, args...) }
func (r *recordingTB) Fatal(args ...any)                 { r.failed = true; r.Log(args...) }
func (r *recordingTB) FailNow()                          { r.failed = true }
func (r *recordingTB) Fail()                             { r.failed = true }
func (r *recordingTB) Failed() bool                      { return r.failed }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
