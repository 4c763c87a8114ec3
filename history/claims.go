package history

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// ClaimPrefix starts a claim line: a `//` line (ignored by any reader that
// does not know claims) that states what the system a history was taken from
// — a Flink JobManager log, for an imported history — says had been decided
// by then (HISTORY.md, "Claims"). Replay checks every claim and reports each
// one the core's decisions contradict.
const ClaimPrefix = "//claim "

// ClaimKind is what a claim is about.
type ClaimKind uint8

// Claim kinds.
const (
	ClaimTriggered ClaimKind = iota + 1 // checkpoint N got an id (a trigger effect)
	ClaimCompleted                      // checkpoint N completed
	ClaimAborted                        // checkpoint N ended without completing, for Reason if given
	ClaimRestored                       // the latest completed checkpoint (what a restart restores) is N
	ClaimJob                            // the job's status is Job
	ClaimRefused                        // a checkpoint request made now gets no id
)

var claimWords = map[string]ClaimKind{"triggered": ClaimTriggered, "completed": ClaimCompleted,
	"aborted": ClaimAborted, "restored": ClaimRestored, "job": ClaimJob, "refused": ClaimRefused}

// Claim is one claim line: `//claim log line L: WHAT [-- note]`, where WHAT is
// `triggered N`, `completed N`, `aborted N [reason]`, `restored N` or
// `job running|failed|finished`. It holds after the event line before it (the
// start of the history when there is none).
type Claim struct {
	Line       int // the claim's physical line in the history
	After      int // how many event records precede it
	LogLine    int // the line of the source log that says it
	Kind       ClaimKind
	Checkpoint int64
	Reason     fsm.Reason // aborted: the abort reason the log gives ("" = any)
	Job        string     // job: running, failed or finished
	Note       string     // free text after " -- "
	Text       string     // the claim as written, without the prefix
}

// ClaimFailure is a claim the core's decisions contradict.
type ClaimFailure struct {
	File  string
	Claim Claim
	Core  string // what the core decided instead
}

// Error renders the failure as file:line: the log (line L) says X; the core: Y.
func (f *ClaimFailure) Error() string {
	return fmt.Sprintf("%s:%d: the log (line %d) says %s; the core: %s", f.File, f.Claim.Line, f.Claim.LogLine, f.Claim.what(), f.Core)
}

func (c *Claim) what() string {
	switch c.Kind {
	case ClaimTriggered:
		return fmt.Sprintf("checkpoint %d was triggered", c.Checkpoint)
	case ClaimCompleted:
		return fmt.Sprintf("checkpoint %d completed", c.Checkpoint)
	case ClaimAborted:
		if c.Reason != "" {
			return fmt.Sprintf("checkpoint %d was aborted (%s)", c.Checkpoint, c.Reason)
		}
		return fmt.Sprintf("checkpoint %d was aborted", c.Checkpoint)
	case ClaimRestored:
		return fmt.Sprintf("a restart restores checkpoint %d", c.Checkpoint)
	case ClaimRefused:
		return "a checkpoint request now gets no id"
	default:
		return "the job is " + c.Job
	}
}

// parseClaim reads a claim line (trimmed, prefix included).
func parseClaim(line []byte) (Claim, *Error) {
	text := strings.TrimPrefix(string(line), ClaimPrefix)
	c := Claim{Text: text}
	bad := func(format string, args ...any) (Claim, *Error) {
		return Claim{}, &Error{Field: "claim", Reason: fmt.Sprintf(format, args...) +
			"; want `//claim log line L: triggered N | completed N | aborted N [reason] | restored N | refused | job running|failed|finished [-- note]`"}
	}
	if i := strings.Index(text, " -- "); i >= 0 {
		text, c.Note = text[:i], strings.TrimSpace(text[i+4:])
	}
	where, what, ok := strings.Cut(text, ":")
	if !ok || !strings.HasPrefix(where, "log line ") {
		return bad("%q does not start with \"log line L:\"", text)
	}
	l, err := strconv.Atoi(strings.TrimPrefix(where, "log line "))
	if err != nil || l < 1 {
		return bad("log line %q is not a positive number", strings.TrimPrefix(where, "log line "))
	}
	c.LogLine = l
	f := strings.Fields(what)
	if len(f) == 0 {
		return bad("nothing is claimed")
	}
	c.Kind = claimWords[f[0]]
	args := f[1:]
	switch c.Kind {
	case 0:
		return bad("unknown claim %q", f[0])
	case ClaimRefused:
		if len(args) != 0 {
			return bad("refused takes no argument, got %q", strings.Join(args, " "))
		}
		return c, nil
	case ClaimJob:
		if len(args) != 1 || (args[0] != "running" && args[0] != "failed" && args[0] != "finished") {
			return bad("job wants one of running, failed, finished, got %q", strings.Join(args, " "))
		}
		c.Job = args[0]
		return c, nil
	case ClaimAborted:
		if len(args) == 2 {
			c.Reason = fsm.Reason(args[1])
			args = args[:1]
		}
	}
	if len(args) != 1 {
		return bad("%s wants one checkpoint id, got %q", f[0], strings.Join(args, " "))
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id < 1 || id > fsm.MaxSafeInt {
		return bad("checkpoint id %q is not a positive integer below 2^53", args[0])
	}
	c.Checkpoint = id
	return c, nil
}

// claimChecker follows the core's decisions that claims are about. It is fed
// claims as a reader meets them (add), so it works on a streamed history too;
// what it remembers of each checkpoint is one byte, and nothing until the
// history's first claim.
type claimChecker struct {
	file    string
	claims  []Claim // added, not yet checked
	checked int
	fates   fates
}

func newClaimChecker(file string) *claimChecker { return &claimChecker{file: file} }

// add queues claims to check; they come in file order.
func (c *claimChecker) add(claims []Claim) {
	c.claims = append(c.claims, claims...)
	c.checked += len(claims)
}

// observe records the effects of one event.
func (c *claimChecker) observe(effs []fsm.Effect) {
	for _, f := range effs {
		switch f.Type {
		case fsm.EffTrigger:
			c.fates.set(f.Checkpoint, fateTriggered, "")
		case fsm.EffCompleted:
			c.fates.set(f.Checkpoint, fateCompleted, "")
		case fsm.EffAbort:
			c.fates.set(f.Checkpoint, fateAborted, f.Reason)
		}
	}
}

// checkUpTo checks the queued claims that follow the first n events, on the
// state after them.
func (c *claimChecker) checkUpTo(n int, s *fsm.State) []ClaimFailure {
	var out []ClaimFailure
	k := 0
	for ; k < len(c.claims) && c.claims[k].After <= n; k++ {
		cl := c.claims[k]
		if core, ok := c.check(&cl, s); !ok {
			out = append(out, ClaimFailure{File: c.file, Claim: cl, Core: core})
		}
	}
	c.claims = c.claims[k:]
	return out
}

// fates is what became of every checkpoint id: one byte an id (its fate and,
// when aborted, the index of its reason), from the first id triggered.
type fates struct {
	base    int64
	codes   []uint8
	reasons []fsm.Reason // index+1 in a code's upper bits
}

const (
	fateTriggered uint8 = 1 + iota
	fateCompleted
	fateAborted
	fateMask = 3
)

func (f *fates) set(id int64, fate uint8, reason fsm.Reason) {
	if len(f.codes) == 0 {
		f.base = id
	}
	if id < f.base || id-f.base > 1<<40 {
		return // ids only grow (R14); the core's checks report it otherwise
	}
	for int64(len(f.codes)) <= id-f.base {
		f.codes = append(f.codes, 0)
	}
	code := fate
	if fate == fateAborted {
		k := 0
		for k < len(f.reasons) && f.reasons[k] != reason {
			k++
		}
		if k == len(f.reasons) && k < 62 {
			f.reasons = append(f.reasons, reason)
		}
		code |= uint8(min(k, 62)+1) << 2
	}
	f.codes[id-f.base] = code
}

// get returns an id's fate (0: never triggered) and abort reason.
func (f *fates) get(id int64) (uint8, fsm.Reason) {
	if id < f.base || id-f.base >= int64(len(f.codes)) {
		return 0, ""
	}
	code := f.codes[id-f.base]
	if code&fateMask != fateAborted {
		return code & fateMask, ""
	}
	if k := int(code>>2) - 1; k < len(f.reasons) {
		return fateAborted, f.reasons[k]
	}
	return fateAborted, "other"
}

// check says whether claim cl holds, and what the core decided.
func (c *claimChecker) check(cl *Claim, s *fsm.State) (string, bool) {
	id := cl.Checkpoint
	state, reason := c.fates.get(id)
	fate := func() string {
		switch state {
		case fateCompleted:
			return fmt.Sprintf("checkpoint %d completed", id)
		case fateAborted:
			return fmt.Sprintf("checkpoint %d was aborted (%s)", id, reason)
		case fateTriggered:
			return fmt.Sprintf("checkpoint %d is pending", id)
		}
		return fmt.Sprintf("checkpoint %d was never triggered", id)
	}
	switch cl.Kind {
	case ClaimTriggered:
		return fate(), state != 0
	case ClaimCompleted:
		return fate(), state == fateCompleted
	case ClaimAborted:
		return fate(), state == fateAborted && (cl.Reason == "" || reason == cl.Reason)
	case ClaimRefused:
		// Ask a copy of the core: the history has no event for a request the
		// source refused, since one the core accepted would take an id.
		probe := s.Clone()
		effs, err := probe.Step(fsm.Event{At: s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if err != nil {
			return "it takes no request: " + err.Error(), true
		}
		for _, f := range effs {
			if f.Type == fsm.EffTrigger {
				return fmt.Sprintf("a request now would trigger checkpoint %d", f.Checkpoint), false
			}
		}
		return "it refuses a request now", true
	case ClaimRestored:
		if l, ok := s.LatestCompleted(); ok {
			return fmt.Sprintf("its latest completed checkpoint is %d", l.ID), l.ID == id
		}
		return "it has no completed checkpoint", false
	default:
		job := s.Job().String()
		if r := s.FailReason(); r != "" {
			job += " (" + string(r) + ")"
		}
		return "the job is " + job, s.Job().String() == cl.Job
	}
}
