package history_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Golden checks: the assertions of a golden history live in the history itself,
// as `// check:` comment lines (a comment to every other reader), so that one
// file holds the scenario and what it must show; its .golden transcript sits
// beside it. TestGoldenChecks evaluates them against the replay, and every
// golden history must have at least one — a blind -rewrite of the .golden files
// cannot make a wrong behaviour pass.
//
// The language. A check line is
//
//	// check: COMMAND ARG...
//
// ARGs are separated by spaces; an ARG with spaces or quotes is a Go string
// literal ("…"). Every check is evaluated against the whole replay — the
// summary, the trace, each event's effects and the final state — wherever it
// stands in the file; it is written next to the event it is about, or at the
// end for the outcome. Lists are exact and ordered: `completed 1 3` means
// exactly checkpoints 1 and 3 completed, in that order; `completed` alone means
// none. The commands (ids are checkpoint ids; EVENT and EFFECT are history
// spellings such as task_failed and coordinator_fallback):
//
//	triggered ID...                 every triggered id, in order
//	triggered_at ID AT              checkpoint ID was triggered at time AT
//	forced ID...                    the triggered ids that were forced global
//	trigger_tasks ID "TASKS"        the trigger of ID reached exactly TASKS ("src/0 sink/0")
//	trigger_failures REASON...      every request that got no id, by reason
//	trigger_failures_at AT:REASON...  the same with the time of each
//	trigger_failed_msg I "TEXT"     the I-th (from 0) trigger_failed says TEXT
//	completed ID...                 every completion, in order
//	completed_kinds KIND...         the kind of every completion, in order
//	modes MODE...                   the mode of every completion, in order
//	completed_as ID MODE REF...     ID completed with MODE, region r0, r1, … using REF…
//	completed_refs ID REF...        ID completed with these refs per region
//	aborted ID:REASON:COUNTED...    every abort (COUNTED true or false), in order
//	abort_msg ID "TEXT"             the abort of ID says TEXT
//	aborted_on ID EVENT TASK        ID was aborted by the step of an EVENT from TASK
//	discarded ID...                 every discard, in order
//	retained ID...                  the store at the end
//	known ID...                     every completed checkpoint kept at the end
//	pending_at_end ID...            the checkpoints still pending at the end
//	max_ref_age N                   the summary's max_ref_age
//	job STATUS [REASON]             the final job status and fail reason
//	persist_consecutive ID N        the persisted metadata of ID counts N
//	final_consecutive N             consecutive_regional at the end
//	final_forcing BOOL              whether a checkpoint triggered at the end would be forced
//	next_id N                       the id counter at the end
//	effective INTERVAL TIMEOUT BOOL the configuration in force at the end
//	warn_count CODE N               exactly N warnings with CODE
//	warn_has CODE "TEXT"            some warning with CODE says TEXT
//	warn_on CODE ID...              the checkpoints of the warnings with CODE
//	notified ID "TASKS"             notify_complete of ID went to exactly TASKS
//	regional_info ID "REF:TASKS"... the regional info of ID's notify_complete
//	skipped_with ID "CP/REGION"...  the region_skipped notices delivered with ID's trigger
//	late_discards "CP TASK"...      every discard_late_state, in order
//	fallbacks ID "VERTEX{REFS}"...  the coordinator_fallback effects of ID
//	step_types EVENT ID EFFECT...   the first EVENT about ID (0: any) emits exactly these effects
//	step_has EVENT ID EFFECT        the first EVENT about ID emits an EFFECT
//	seal_types ID EFFECT...         the step that persists ID emits exactly these effects
//	no_effect EFFECT ID             no EFFECT about checkpoint ID is ever emitted
//	rejected_requests REQ...        every config_rejected, by request id
//	applied "REQ:INTERVAL/TIMEOUT"... every config_applied
//	trace_has "TEXT"                some trace line contains TEXT
//	trace_lacks "TEXT"              no trace line contains TEXT
//	trace_count "TEXT" N            exactly N trace lines contain TEXT
//	trace_before "A" "B"            TEXT B does not occur in the trace before A

// checkLine is one `// check:` line of a golden history.
type checkLine struct {
	line int
	cmd  string
	args []string
}

const checkPrefix = "// check:"

// readChecks returns the check lines of a history file.
func readChecks(path string) ([]checkLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []checkLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, checkPrefix) {
			continue
		}
		fields, err := splitArgs(strings.TrimSpace(strings.TrimPrefix(text, checkPrefix)))
		if err != nil || len(fields) == 0 {
			return nil, fmt.Errorf("%s:%d: bad check line: %v", path, n, err)
		}
		out = append(out, checkLine{line: n, cmd: fields[0], args: fields[1:]})
	}
	return out, sc.Err()
}

// splitArgs splits on spaces, reading "…" as one Go string literal.
func splitArgs(s string) ([]string, error) {
	var out []string
	for s = strings.TrimLeftFunc(s, unicode.IsSpace); s != ""; s = strings.TrimLeftFunc(s, unicode.IsSpace) {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("unterminated string %s", s)
			}
			v, _ := strconv.Unquote(q)
			out, s = append(out, v), s[len(q):]
			continue
		}
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		out, s = append(out, s[:end]), s[end:]
	}
	return out, nil
}

// goldenStep is one replayed event with the effects the core returned for it.
type goldenStep struct {
	ev   fsm.Event
	effs []fsm.Effect
}

// checkRun is what checks are evaluated against: one replay of a golden history.
type checkRun struct {
	topo  *fsm.Topology
	sum   history.Summary
	trace string
	steps []goldenStep
	state *fsm.State
	errs  []string
}

// newCheckRun replays h step by step through the core to keep each step's
// effects; sum and trace come from history.Replay (replayGolden).
func newCheckRun(h *history.History, run goldenRun) (*checkRun, error) {
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		return nil, err
	}
	c := &checkRun{topo: h.Topology, sum: run.result.Summary, trace: string(run.output), state: s}
	for _, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", rec.Line, err)
		}
		c.steps = append(c.steps, goldenStep{rec.Event, append([]fsm.Effect(nil), effs...)})
	}
	return c, nil
}

func (c *checkRun) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *checkRun) equal(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		c.errorf("%s = %v, want %v", what, got, want)
	}
}

// eval runs one check; an error is a malformed check, not a failed one.
func (c *checkRun) eval(l checkLine) error {
	cmd, ok := checkCommands[l.cmd]
	if !ok {
		return fmt.Errorf("unknown check %q", l.cmd)
	}
	a := &checkArgs{list: l.args}
	cmd(c, a)
	if a.err == nil && a.i < len(a.list) {
		a.err = fmt.Errorf("%d unused arguments", len(a.list)-a.i)
	}
	return a.err
}

// checkArgs reads a check's arguments; the first problem sticks.
type checkArgs struct {
	list []string
	i    int
	err  error
}

func (a *checkArgs) str() string {
	if a.i >= len(a.list) {
		if a.err == nil {
			a.err = fmt.Errorf("missing argument %d", a.i+1)
		}
		return ""
	}
	a.i++
	return a.list[a.i-1]
}

func (a *checkArgs) int() int64 {
	s := a.str()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("argument %d: %q is not an integer", a.i, s)
	}
	return v
}

func (a *checkArgs) bool() bool {
	s := a.str()
	v, err := strconv.ParseBool(s)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("argument %d: %q is not true or false", a.i, s)
	}
	return v
}

func (a *checkArgs) strs() []string {
	out := []string{}
	for a.i < len(a.list) {
		out = append(out, a.str())
	}
	return out
}

func (a *checkArgs) ints() []int64 {
	out := []int64{}
	for a.i < len(a.list) {
		out = append(out, a.int())
	}
	return out
}

func (a *checkArgs) eventType() fsm.EventType {
	s := a.str()
	t, ok := fsm.ParseEventType(s)
	if !ok && a.err == nil {
		a.err = fmt.Errorf("argument %d: %q is not an event type", a.i, s)
	}
	return t
}

func (a *checkArgs) effectType() fsm.EffectType {
	s := a.str()
	for t := fsm.EffectType(1); t.String() != "unknown"; t++ {
		if t.String() == s {
			return t
		}
	}
	if a.err == nil {
		a.err = fmt.Errorf("argument %d: %q is not an effect type", a.i, s)
	}
	return 0
}

func (a *checkArgs) effectTypes() []fsm.EffectType {
	out := []fsm.EffectType{}
	for a.i < len(a.list) {
		out = append(out, a.effectType())
	}
	return out
}

// effects returns every effect of type typ, in order.
func (c *checkRun) effects(typ fsm.EffectType) []fsm.Effect {
	var out []fsm.Effect
	for _, st := range c.steps {
		for _, e := range st.effs {
			if e.Type == typ {
				out = append(out, e)
			}
		}
	}
	return out
}

// step finds the first step for an event of type typ about checkpoint id (0: any).
func (c *checkRun) step(typ fsm.EventType, id int64) (goldenStep, bool) {
	for _, st := range c.steps {
		if st.ev.Type == typ && (id == 0 || st.ev.Checkpoint == id) {
			return st, true
		}
	}
	c.errorf("no %s event for checkpoint %d", typ, id)
	return goldenStep{}, false
}

func (c *checkRun) names(ts fsm.TaskSet) string {
	var out []string
	ts.All(func(id fsm.TaskID) bool {
		out = append(out, c.topo.TaskName(id))
		return true
	})
	return strings.Join(out, " ")
}

func types(effs []fsm.Effect) []fsm.EffectType {
	got := []fsm.EffectType{}
	for _, e := range effs {
		got = append(got, e.Type)
	}
	return got
}

func (c *checkRun) completion(id int64) (history.Completed, bool) {
	for _, x := range c.sum.Completed {
		if x.ID == id {
			return x, true
		}
	}
	c.errorf("checkpoint %d did not complete", id)
	return history.Completed{}, false
}

func (c *checkRun) firstEffect(typ fsm.EffectType, id int64) (fsm.Effect, bool) {
	for _, e := range c.effects(typ) {
		if e.Checkpoint == id {
			return e, true
		}
	}
	c.errorf("no %s effect for checkpoint %d", typ, id)
	return fsm.Effect{}, false
}

func (c *checkRun) traceLines(s string) int {
	n := 0
	for _, l := range strings.Split(c.trace, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// checkCommands implements the language documented above.
var checkCommands = map[string]func(c *checkRun, a *checkArgs){
	"triggered": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, x := range c.sum.Triggered {
			got = append(got, x.ID)
		}
		c.equal("triggered", got, a.ints())
	},
	"triggered_at": func(c *checkRun, a *checkArgs) {
		id, at := a.int(), a.int()
		for _, x := range c.sum.Triggered {
			if x.ID == id {
				c.equal(fmt.Sprintf("trigger time of %d", id), x.At, at)
				return
			}
		}
		c.errorf("checkpoint %d was never triggered", id)
	},
	"forced": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, x := range c.sum.Triggered {
			if x.ForcedGlobal {
				got = append(got, x.ID)
			}
		}
		c.equal("forced_global", got, a.ints())
	},
	"trigger_tasks": func(c *checkRun, a *checkArgs) {
		id, want := a.int(), a.str()
		if e, ok := c.firstEffect(fsm.EffTrigger, id); ok {
			c.equal(fmt.Sprintf("tasks of trigger %d", id), c.names(e.Tasks), want)
		}
	},
	"trigger_failures": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, x := range c.sum.TriggerFailures {
			got = append(got, x.Reason)
		}
		c.equal("trigger_failures", got, a.strs())
	},
	"trigger_failures_at": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, x := range c.sum.TriggerFailures {
			got = append(got, fmt.Sprintf("%d:%s", x.At, x.Reason))
		}
		c.equal("trigger_failures", got, a.strs())
	},
	"trigger_failed_msg": func(c *checkRun, a *checkArgs) {
		i, sub := a.int(), a.str()
		fs := c.effects(fsm.EffTriggerFailed)
		switch {
		case int(i) >= len(fs):
			c.errorf("no trigger failure #%d", i)
		case !strings.Contains(fs[i].Message, sub):
			c.errorf("trigger failure #%d: message %q lacks %q", i, fs[i].Message, sub)
		}
	},
	"completed": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, x := range c.sum.Completed {
			got = append(got, x.ID)
		}
		c.equal("completed", got, a.ints())
	},
	"completed_kinds": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, x := range c.sum.Completed {
			got = append(got, x.Kind)
		}
		c.equal("completed kinds", got, a.strs())
	},
	"modes": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, x := range c.sum.Completed {
			got = append(got, x.Mode)
		}
		c.equal("completion modes", got, a.strs())
	},
	"completed_as": func(c *checkRun, a *checkArgs) {
		id, mode, refs := a.int(), a.str(), a.ints()
		if x, ok := c.completion(id); ok {
			c.equal(fmt.Sprintf("mode of %d", id), x.Mode, mode)
			c.equal(fmt.Sprintf("refs of %d", id), []int64(x.Refs), refs)
		}
	},
	"completed_refs": func(c *checkRun, a *checkArgs) {
		id, refs := a.int(), a.ints()
		if x, ok := c.completion(id); ok {
			c.equal(fmt.Sprintf("refs of %d", id), []int64(x.Refs), refs)
		}
	},
	"aborted": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, x := range c.sum.Aborted {
			got = append(got, fmt.Sprintf("%d:%s:%t", x.ID, x.Reason, x.Counted))
		}
		c.equal("aborted", got, a.strs())
	},
	"abort_msg": func(c *checkRun, a *checkArgs) {
		id, sub := a.int(), a.str()
		if e, ok := c.firstEffect(fsm.EffAbort, id); ok && !strings.Contains(e.Message, sub) {
			c.errorf("abort %d: message %q lacks %q", id, e.Message, sub)
		}
	},
	"aborted_on": func(c *checkRun, a *checkArgs) {
		id, typ, task := a.int(), a.eventType(), a.str()
		for _, st := range c.steps {
			for _, e := range st.effs {
				if e.Type == fsm.EffAbort && e.Checkpoint == id {
					got := fmt.Sprintf("%s %s", st.ev.Type, c.topo.TaskName(st.ev.Task))
					c.equal(fmt.Sprintf("event aborting %d", id), got, fmt.Sprintf("%s %s", typ, task))
					return
				}
			}
		}
		c.errorf("checkpoint %d was not aborted", id)
	},
	"discarded": func(c *checkRun, a *checkArgs) {
		c.equal("discarded", append([]int64{}, c.sum.Discarded...), a.ints())
	},
	"retained": func(c *checkRun, a *checkArgs) {
		c.equal("retained", append([]int64{}, c.sum.Retained...), a.ints())
	},
	"known": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, k := range c.state.Known() {
			got = append(got, k.ID)
		}
		c.equal("known", got, a.ints())
	},
	"pending_at_end": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, p := range c.state.Pending() {
			got = append(got, p.ID)
		}
		c.equal("pending at end", got, a.ints())
	},
	"max_ref_age": func(c *checkRun, a *checkArgs) { c.equal("max_ref_age", c.sum.MaxRefAge, a.int()) },
	"job": func(c *checkRun, a *checkArgs) {
		status, reason := a.str(), ""
		if a.i < len(a.list) {
			reason = a.str()
		}
		c.equal("job", c.sum.Job, status)
		got := ""
		if c.sum.FailReason != nil {
			got = *c.sum.FailReason
		}
		c.equal("fail_reason", got, reason)
	},
	"persist_consecutive": func(c *checkRun, a *checkArgs) {
		id, n := a.int(), a.int()
		if e, ok := c.firstEffect(fsm.EffPersist, id); ok {
			c.equal(fmt.Sprintf("consecutive in %d's metadata", id), int64(e.Consecutive), n)
		}
	},
	"final_consecutive": func(c *checkRun, a *checkArgs) {
		c.equal("final consecutive", int64(c.state.Consecutive()), a.int())
	},
	"final_forcing": func(c *checkRun, a *checkArgs) { c.equal("final forcing", c.state.Forcing(), a.bool()) },
	"next_id":       func(c *checkRun, a *checkArgs) { c.equal("next id", c.state.NextID(), a.int()) },
	"effective": func(c *checkRun, a *checkArgs) {
		want := fsm.EffectiveConfig{IntervalMs: a.int(), TimeoutMs: a.int(), OverridesActive: a.bool()}
		c.equal("effective configuration", c.state.Effective(), want)
	},
	"warn_count": func(c *checkRun, a *checkArgs) {
		code, n := a.str(), a.int()
		got := int64(0)
		for _, e := range c.effects(fsm.EffWarn) {
			if e.Code == code {
				got++
			}
		}
		c.equal("warnings "+code, got, n)
	},
	"warn_has": func(c *checkRun, a *checkArgs) {
		code, sub := a.str(), a.str()
		for _, e := range c.effects(fsm.EffWarn) {
			if e.Code == code && strings.Contains(e.Message, sub) {
				return
			}
		}
		c.errorf("no %s warning saying %q", code, sub)
	},
	"warn_on": func(c *checkRun, a *checkArgs) {
		code := a.str()
		got := []int64{}
		for _, e := range c.effects(fsm.EffWarn) {
			if e.Code == code {
				got = append(got, e.Checkpoint)
			}
		}
		c.equal("checkpoints warned "+code, got, a.ints())
	},
	"notified": func(c *checkRun, a *checkArgs) {
		id, tasks := a.int(), a.str()
		if e, ok := c.firstEffect(fsm.EffNotifyComplete, id); ok {
			c.equal(fmt.Sprintf("notify_complete %d", id), c.names(e.Tasks), tasks)
		}
	},
	"regional_info": func(c *checkRun, a *checkArgs) {
		id, groups := a.int(), a.strs()
		if e, ok := c.firstEffect(fsm.EffNotifyComplete, id); ok {
			got := []string{}
			for _, g := range e.RegionalInfo {
				got = append(got, fmt.Sprintf("%d:%s", g.Checkpoint, c.names(g.Tasks)))
			}
			c.equal(fmt.Sprintf("regional_info of %d", id), got, groups)
		}
	},
	"skipped_with": func(c *checkRun, a *checkArgs) {
		id, want := a.int(), a.strs()
		for _, st := range c.steps {
			got := []string{}
			for _, e := range st.effs {
				switch {
				case e.Type == fsm.EffRegionSkipped:
					got = append(got, fmt.Sprintf("%d/%s", e.Checkpoint, fsm.RegionName(e.Region)))
				case e.Type == fsm.EffTrigger && e.Checkpoint == id:
					c.equal(fmt.Sprintf("region_skipped with trigger %d", id), got, want)
					return
				}
			}
		}
		c.errorf("checkpoint %d was not triggered", id)
	},
	"late_discards": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, e := range c.effects(fsm.EffDiscardLateState) {
			got = append(got, fmt.Sprintf("%d %s", e.Checkpoint, c.topo.TaskName(e.Task)))
		}
		c.equal("discard_late_state", got, a.strs())
	},
	"fallbacks": func(c *checkRun, a *checkArgs) {
		id, want := a.int(), a.strs()
		got := []string{}
		for _, e := range c.effects(fsm.EffCoordinatorFallback) {
			if e.Checkpoint == id {
				var refs []string
				for _, r := range e.Refs {
					refs = append(refs, fmt.Sprintf("%s->%d", fsm.RegionName(r.Region), r.Checkpoint))
				}
				got = append(got, c.topo.Vertices()[e.Vertex].ID+"{"+strings.Join(refs, " ")+"}")
			}
		}
		c.equal(fmt.Sprintf("coordinator_fallback of %d", id), got, want)
	},
	"step_types": func(c *checkRun, a *checkArgs) {
		typ, id, want := a.eventType(), a.int(), a.effectTypes()
		if st, ok := c.step(typ, id); ok {
			c.equal(fmt.Sprintf("effects of %s %d", typ, id), types(st.effs), want)
		}
	},
	"step_has": func(c *checkRun, a *checkArgs) {
		typ, id, eff := a.eventType(), a.int(), a.effectType()
		if st, ok := c.step(typ, id); ok {
			for _, e := range st.effs {
				if e.Type == eff {
					return
				}
			}
			c.errorf("the %s %d step emits no %s", typ, id, eff)
		}
	},
	"seal_types": func(c *checkRun, a *checkArgs) {
		id, want := a.int(), a.effectTypes()
		for _, st := range c.steps {
			for _, e := range st.effs {
				if e.Type == fsm.EffPersist && e.Checkpoint == id {
					c.equal(fmt.Sprintf("effects sealing %d", id), types(st.effs), want)
					return
				}
			}
		}
		c.errorf("checkpoint %d was not persisted", id)
	},
	"no_effect": func(c *checkRun, a *checkArgs) {
		typ, id := a.effectType(), a.int()
		for _, e := range c.effects(typ) {
			if e.Checkpoint == id {
				c.errorf("a %s effect for checkpoint %d", typ, id)
				return
			}
		}
	},
	"rejected_requests": func(c *checkRun, a *checkArgs) {
		got := []int64{}
		for _, e := range c.effects(fsm.EffConfigRejected) {
			got = append(got, e.Request)
		}
		c.equal("rejected requests", got, a.ints())
	},
	"applied": func(c *checkRun, a *checkArgs) {
		got := []string{}
		for _, e := range c.effects(fsm.EffConfigApplied) {
			got = append(got, fmt.Sprintf("%d:%d/%d", e.Request, e.IntervalMs, e.TimeoutMs))
		}
		c.equal("applied", got, a.strs())
	},
	"trace_has": func(c *checkRun, a *checkArgs) {
		if s := a.str(); !strings.Contains(c.trace, s) {
			c.errorf("the trace has no line containing %q", s)
		}
	},
	"trace_lacks": func(c *checkRun, a *checkArgs) {
		if s := a.str(); strings.Contains(c.trace, s) {
			c.errorf("the trace has a line containing %q", s)
		}
	},
	"trace_count": func(c *checkRun, a *checkArgs) {
		s, n := a.str(), a.int()
		if got := c.traceLines(s); int64(got) != n {
			c.errorf("%d trace lines contain %q, want %d", got, s, n)
		}
	},
	"trace_before": func(c *checkRun, a *checkArgs) {
		first, then := a.str(), a.str()
		if i, j := strings.Index(c.trace, first), strings.Index(c.trace, then); j >= 0 && j < i {
			c.errorf("%q occurs in the trace before %q", then, first)
		}
	},
}

// TestGoldenChecks evaluates the `// check:` lines of every golden history (but
// the refused ones of invalid/, whose .golden holds the refusal); every history
// must have at least one.
func TestGoldenChecks(t *testing.T) {
	for _, path := range goldenFiles(t) {
		name := goldenName(path)
		if strings.HasPrefix(name, "invalid/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			checks, err := readChecks(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(checks) == 0 {
				t.Fatalf("%s has no `// check:` line: assert its key behaviour (history/golden_check_test.go)", path)
			}
			run := replayGolden(t, path)
			h, err := history.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := newCheckRun(h, run)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range checks {
				c.errs = c.errs[:0]
				if err := c.eval(l); err != nil {
					t.Errorf("%s:%d: check %s: %v", path, l.line, l.cmd, err)
					continue
				}
				for _, e := range c.errs {
					t.Errorf("%s:%d: check %s: %s", path, l.line, l.cmd, e)
				}
			}
		})
	}
}
