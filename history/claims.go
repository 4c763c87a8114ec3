package history

import (
	"bytes"
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
)

var claimWords = map[string]ClaimKind{"triggered": ClaimTriggered, "completed": ClaimCompleted,
	"aborted": ClaimAborted, "restored": ClaimRestored, "job": ClaimJob}

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
			"; want `//claim log line L: triggered N | completed N | aborted N [reason] | restored N | job running|failed|finished [-- note]`"}
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
	if err != nil || id < 1 || id >= 1<<53 {
		return bad("checkpoint id %q is not a positive integer below 2^53", args[0])
	}
	c.Checkpoint = id
	return c, nil
}

// readClaim adds the claim on a `//` line to h, if the line is one.
func readClaim(h *History, trimmed []byte, line int) *Error {
	if !bytes.HasPrefix(trimmed, []byte(ClaimPrefix)) {
		return nil
	}
	c, err := parseClaim(trimmed)
	if err != nil {
		return err
	}
	c.Line, c.After = line, len(h.Records)
	h.Claims = append(h.Claims, c)
	return nil
}

// claimChecker follows the core's decisions that claims are about; it keeps
// nothing when the history has no claims.
type claimChecker struct {
	file      string
	claims    []Claim
	next      int
	triggered map[int64]bool
	ended     map[int64]string // "completed" or the abort reason
}

func newClaimChecker(file string, claims []Claim) *claimChecker {
	if len(claims) == 0 {
		return nil
	}
	return &claimChecker{file: file, claims: claims, triggered: map[int64]bool{}, ended: map[int64]string{}}
}

// step records the effects of event record i (0-based) and checks the claims
// that follow it; the initial state is checked with i = -1.
func (c *claimChecker) step(i int, effs []fsm.Effect, s *fsm.State) []ClaimFailure {
	for _, f := range effs {
		switch f.Type {
		case fsm.EffTrigger:
			c.triggered[f.Checkpoint] = true
		case fsm.EffCompleted:
			c.ended[f.Checkpoint] = "completed"
		case fsm.EffAbort:
			c.ended[f.Checkpoint] = string(f.Reason)
		}
	}
	var out []ClaimFailure
	for c.next < len(c.claims) && c.claims[c.next].After <= i+1 {
		cl := c.claims[c.next]
		c.next++
		if core, ok := c.check(&cl, s); !ok {
			out = append(out, ClaimFailure{File: c.file, Claim: cl, Core: core})
		}
	}
	return out
}

// check says whether claim cl holds, and what the core decided.
func (c *claimChecker) check(cl *Claim, s *fsm.State) (string, bool) {
	id := cl.Checkpoint
	fate := func() string {
		switch e, ok := c.ended[id]; {
		case ok && e == "completed":
			return fmt.Sprintf("checkpoint %d completed", id)
		case ok:
			return fmt.Sprintf("checkpoint %d was aborted (%s)", id, e)
		case c.triggered[id]:
			return fmt.Sprintf("checkpoint %d is pending", id)
		}
		return fmt.Sprintf("checkpoint %d was never triggered", id)
	}
	switch cl.Kind {
	case ClaimTriggered:
		return fate(), c.triggered[id]
	case ClaimCompleted:
		return fate(), c.ended[id] == "completed"
	case ClaimAborted:
		e, ok := c.ended[id]
		return fate(), ok && e != "completed" && (cl.Reason == "" || e == string(cl.Reason))
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
