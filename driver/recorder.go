package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// recorder is the flight recorder: every event the core accepts, with the
// effects it produced, goes to a history file (docs/spec/HISTORY.md) that `replay`
// reproduces. Files are flight-<n>.jsonl, n counting up in the directory.
//
// A fresh incarnation's file is a complete history: header, start, events.
//
// A resumed incarnation (R50) first tries to continue the previous file (the
// highest n; see continueFlight): it cuts off a torn last line, decodes the
// file — which must be a complete history for this job and configuration — and
// replays it through a fresh core. It then reconciles that core with the
// store: a checkpoint persisting in the file whose metadata the store holds
// gets a persisted event (the crash came between the write and its
// confirmation), a pending patch whose values the store holds as the overrides
// gets a config_persisted event; then a recover event at the current time
// (never before the file's last event). The result must match the store and
// fsm.Resume of it — durable state field by field (an id counter the store has
// ahead of the file counts as a difference), consecutive count, effective
// configuration, retained checkpoints, and sameBehavior. If it does, the
// driver runs on that very core and appends to the same file: the appended
// lines carry the effects the core produced for them, so the one growing file
// replays across restarts with no divergence. Those effects are recorded, not
// carried out — as with fsm.Resume, a recovery only sweeps orphaned
// checkpoints (see resume). If anything differs, the incarnation falls back to
// a new file as described next, and its comment says why the previous file was
// not continued.
//
// A resumed incarnation that does not continue cannot begin with a plain
// start: its core came from fsm.Resume. Its file begins with a prelude — start with a restore of the
// latest completed checkpoint and its refs, plus a config_patch and
// config_persisted when overrides are in force — only when that prelude
// rebuilds a core that behaves exactly like the resumed one (checked, see
// sameBehavior); prelude lines carry no recorded effects, they were not events
// of this incarnation. Otherwise the file starts with a `// resumed from store`
// comment stating the durable state, and the events follow without a start:
// replaying such a file needs the store it resumed from, which no history can
// express today.
//
// Lines are written with one write(2) each and not fsync'd: a process crash
// loses nothing, a power loss may lose the tail (a torn last line is the most a
// crash leaves, and Decode reports it). Close fsyncs.
type recorder struct {
	f        *os.File
	topo     *fsm.Topology // set once the header is in the file: events may follow
	path     string
	err      error
	reported bool
}

// openRecorder creates this incarnation's file and writes its beginning.
func (d *Driver) openRecorder(opt Options, prelude []fsm.Event, comment string) error {
	if opt.NoFlightRecorder || opt.FlightDir == "" {
		return nil
	}
	if err := os.MkdirAll(opt.FlightDir, 0o755); err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	n, err := nextFlightNumber(opt.FlightDir)
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	path := filepath.Join(opt.FlightDir, fmt.Sprintf("flight-%d.jsonl", n))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	d.rec = &recorder{f: f, path: path}
	if comment != "" {
		// Comments go before the header: the history Writer owns every line after it.
		if _, err := f.WriteString(commentLines(comment)); err != nil {
			return fmt.Errorf("driver: flight recorder: %w", err)
		}
	}
	w, err := history.NewWriter(f, history.Header{Format: history.Format, Job: d.job, Config: d.cfg})
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	d.rec.topo = w.Topology()
	for _, ev := range prelude {
		if err := w.WriteEvent(ev, nil); err != nil {
			return fmt.Errorf("driver: flight recorder: %w", err)
		}
	}
	return nil
}

func commentLines(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		b.WriteString("// " + l + "\n")
	}
	return b.String()
}

// nextFlightNumber returns one more than the largest n of flight-<n>.jsonl in dir.
func nextFlightNumber(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "flight-")
		s, ok2 := strings.CutSuffix(s, ".jsonl")
		if k, err := strconv.Atoi(s); ok && ok2 && err == nil && k > n {
			n = k
		}
	}
	return n + 1, nil
}

// write records one accepted event; after the first error it records nothing
// more and keeps returning that error.
func (r *recorder) write(ev fsm.Event, effs []fsm.Effect) error {
	if r == nil || r.topo == nil {
		return nil
	}
	if r.err == nil {
		if effs == nil {
			effs = []fsm.Effect{} // record "no effect", not "not recorded"
		}
		var line []byte
		if line, r.err = history.EncodeEvent(r.topo, ev, effs); r.err == nil {
			_, r.err = r.f.Write(append(line, '\n')) // one write(2): a crash tears at most this line
		}
	}
	return r.err
}

// comment appends text as `//` lines (nothing for ""): what happened that the
// history format has no event for, such as fsm.Resume's decisions.
func (r *recorder) comment(text string) error {
	if r == nil || r.topo == nil || text == "" {
		return nil
	}
	if r.err == nil {
		_, r.err = r.f.Write([]byte(commentLines(text)))
	}
	return r.err
}

func (r *recorder) close() error {
	if r == nil {
		return nil
	}
	err := r.err
	if serr := r.f.Sync(); err == nil {
		err = serr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("driver: flight recorder %s: %w", r.path, err)
	}
	return nil
}

// resumePrelude returns the events that rebuild the resumed core from a fresh
// one, or nil and why they cannot.
func resumePrelude(topo *fsm.Topology, cfg fsm.Config, resumed *fsm.State, at int64) ([]fsm.Event, string) {
	start := fsm.Event{At: at, Type: fsm.EvStart}
	if l, ok := resumed.LatestCompleted(); ok {
		mode := fsm.Claim
		if id, noClaim := resumed.RestoredSnapshot(); noClaim && id == l.ID {
			mode = fsm.NoClaim
		}
		start.Restore = &fsm.Restore{Checkpoint: l.ID, Mode: mode, Refs: l.Refs}
	}
	evs := []fsm.Event{start}
	if e := resumed.Effective(); e.OverridesActive {
		evs = append(evs,
			fsm.Event{At: at, Type: fsm.EvConfigPatch, Request: 1, HasInterval: true, IntervalMs: e.IntervalMs,
				HasTimeout: true, TimeoutMs: e.TimeoutMs},
			fsm.Event{At: at, Type: fsm.EvConfigPersisted, Request: 1})
	}
	candidate, err := fsm.New(topo, cfg)
	if err != nil {
		return nil, err.Error()
	}
	for _, ev := range evs {
		if _, err := candidate.Step(ev); err != nil {
			return nil, err.Error()
		}
	}
	if why := sameBehavior(resumed, candidate); why != "" {
		return nil, why
	}
	return evs, ""
}

// sameBehavior returns "" when two cores running the same job and
// configuration react identically to every future event, else the first
// difference. It compares what the core's decisions read; what they do not is
// deliberately left out:
//   - the Restored flag of known checkpoints (only reported, never decided on);
//   - the restored snapshot's id unless in no_claim mode (only R41's warnings
//     read it, and only in no_claim mode);
//   - refs, mode and consecutive of checkpoints that are not retained (retention
//     reads only retained checkpoints' refs, R22d and R25 only the latest's);
//   - the last successful id, which a start with restore sets and Resume clears:
//     every id a resumed core hands out is above it, so R30's "below the last
//     success" test answers the same.
func sameBehavior(a, b *fsm.State) string {
	diff := func(what string, x, y any) string { return fmt.Sprintf("%s: store %v, start %v", what, x, y) }
	switch {
	case a.Job() != b.Job():
		return diff("job", a.Job(), b.Job())
	case a.NextID() != b.NextID():
		return diff("next id", a.NextID(), b.NextID())
	case a.Consecutive() != b.Consecutive():
		return diff("consecutive regional completions", a.Consecutive(), b.Consecutive())
	case a.Forcing() != b.Forcing() || a.ForceNextGlobal() != b.ForceNextGlobal():
		return diff("forced global", a.Forcing(), b.Forcing())
	case a.Effective() != b.Effective():
		return diff("configuration", a.Effective(), b.Effective())
	case len(a.Pending()) != len(b.Pending()) || len(a.PendingPatches()) != len(b.PendingPatches()):
		return "pending work differs"
	}
	ad, ok1 := a.NextDeadline()
	bd, ok2 := b.NextDeadline()
	if ad != bd || ok1 != ok2 {
		return diff("next deadline", ad, bd)
	}
	ra, na := a.RestoredSnapshot()
	rb, nb := b.RestoredSnapshot()
	if na != nb || (na && ra != rb) {
		return diff("no_claim snapshot", ra, rb)
	}
	ka, kb := a.Known(), b.Known()
	if len(ka) != len(kb) {
		return diff("known checkpoints", ids(ka), ids(kb))
	}
	for i := range ka {
		x, y := ka[i], kb[i]
		if x.ID != y.ID || x.Retained != y.Retained || x.Owned != y.Owned {
			return diff("known checkpoints", ids(ka), ids(kb))
		}
		if x.Retained && (x.Mode != y.Mode || x.Consecutive != y.Consecutive || !sameRefs(x.Refs, y.Refs)) {
			return diff(fmt.Sprintf("checkpoint %d metadata", x.ID),
				fmt.Sprintf("%s/%d", x.Mode, x.Consecutive), fmt.Sprintf("%s/%d", y.Mode, y.Consecutive))
		}
	}
	return ""
}

func ids(ks []fsm.StoredCheckpoint) []int64 {
	out := make([]int64, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func sameRefs(a, b []fsm.RegionRef) bool {
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

// describeResume is the comment at the top of a resumed incarnation's file.
func describeResume(s *fsm.State, why string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "resumed from store (R50) at %d: next_id=%d", s.Now(), s.NextID())
	for _, k := range s.Known() {
		fmt.Fprintf(&b, " checkpoint=%d(%s consecutive=%d retained=%t", k.ID, k.Mode, k.Consecutive, k.Retained)
		for _, r := range k.Refs {
			fmt.Fprintf(&b, " %s->%d", fsm.RegionName(r.Region), r.Checkpoint)
		}
		b.WriteString(")")
	}
	if e := s.Effective(); e.OverridesActive {
		fmt.Fprintf(&b, " overrides=interval:%d,timeout:%d", e.IntervalMs, e.TimeoutMs)
	}
	if id, noClaim := s.RestoredSnapshot(); id > 0 {
		fmt.Fprintf(&b, " restored=%d no_claim=%t", id, noClaim)
	}
	if why == "" {
		b.WriteString("\nthe prelude below (start with restore, and the overrides as a confirmed patch) rebuilds exactly this state;")
		b.WriteString("\nits lines carry no recorded effects: they were not events of this incarnation")
	} else {
		b.WriteString("\nthis state cannot be written as a start event (" + why + "):")
		b.WriteString("\nthe events below follow without a start, and replaying them needs the store")
	}
	return b.String()
}
