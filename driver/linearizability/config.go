package linearizability

import (
	"fmt"
	"math"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/ckptcore/ckptcore/fsm"
)

// This file is the porcupine model of the FLIP-571 configuration as the
// driver's REST clients see it: one register holding the effective pair
// (interval, timeout) and the overridesActive flag.
//
// The model is what SEMANTICS promises, not what the driver happens to do:
//
//   - R60: a patch sets interval, timeout or both in one step; a missing field
//     keeps its value; an empty patch or a value outside §2 is rejected and
//     changes nothing. A GET therefore never shows one new value with the other
//     old (I-ConfigAtomic): such a torn read is illegal.
//   - R63: a PATCH acknowledged with 200 has taken effect before its answer, so
//     a GET that starts after that answer sees it (or something later): a
//     stale read is illegal.
//   - A PATCH whose outcome the client does not know (transport error, 503,
//     504, timeout) may or may not take effect, and may take effect long after
//     its call: the driver keeps a patch whose write failed pending until a
//     later patch's write carries it, or drops it at a restart (driver/doc.go).
//     The recorder gives such an operation return = +∞, so porcupine may place
//     it anywhere after its call — placing it after every other operation is
//     how "it never took effect" is expressed.
//   - R50/I-DurableOverrides: a restart changes nothing a client can see except
//     that unconfirmed patches may vanish — which the +∞ rule already allows.
//
// The register is a single object: it does not partition.

// ConfigBase is where the register starts and what bounds it: the job's
// configured interval and timeout (what GET shows before any override) and the
// max_timeout_ms guardrail (0 = no bound), SEMANTICS §2. A history that starts
// later (a segment, see CheckClientHistory) starts from a reading instead, with
// OverridesActive as read.
type ConfigBase struct {
	IntervalMs      int64 `json:"interval_ms"`
	TimeoutMs       int64 `json:"timeout_ms"`
	MaxTimeoutMs    int64 `json:"max_timeout_ms"`
	OverridesActive bool  `json:"overrides_active,omitempty"`
}

// ConfigOp names an operation on the configuration register.
type ConfigOp string

// The operations: PATCH /jobs/{jobid}/checkpoints/configuration and GET
// /jobs/{jobid}/checkpoints/config.
const (
	ConfigPatch ConfigOp = "patch"
	ConfigGet   ConfigOp = "get"
)

// ConfigInput is a client's call: a get, or a patch of the interval, the timeout
// or both (a nil field is not sent).
type ConfigInput struct {
	Op         ConfigOp `json:"op"`
	IntervalMs *int64   `json:"interval_ms,omitempty"`
	TimeoutMs  *int64   `json:"timeout_ms,omitempty"`
}

// Outcome is what a client learned about its operation.
type Outcome string

// The outcomes. Only a get that returned a body is recorded, so a get is
// always OutcomeOK.
const (
	OutcomeOK       Outcome = "ok"       // 200: a patch took effect; a get read the pair
	OutcomeRejected Outcome = "rejected" // 400: the patch was refused and changed nothing
	OutcomeUnknown  Outcome = "unknown"  // transport error, 5xx, timeout: it may or may not take effect
)

// ConfigOutput is what a client got back. The pair and the flag are a get's
// reading. A patch's answer carries a reading too, but the driver takes it
// after the patch applied, in a step of its own: it could only be recorded as
// a get spanning the whole PATCH, which multiplies porcupine's search, so it
// is left out.
type ConfigOutput struct {
	Outcome         Outcome `json:"outcome"`
	IntervalMs      int64   `json:"interval_ms,omitempty"`
	TimeoutMs       int64   `json:"timeout_ms,omitempty"`
	OverridesActive bool    `json:"overrides_active,omitempty"`
}

// configState is the register: comparable, so porcupine's == works.
type configState struct {
	interval, timeout int64
	active            bool
}

// maxDurationMs is the driver's and the core's bound on durations (2^53-1):
// the constant is shared (fsm.MaxSafeInt), the validation below is not.
const maxDurationMs = fsm.MaxSafeInt

// apply returns the register after the patch in, and whether the patch is valid
// (SEMANTICS §2): interval 0 or in [10, 2^53), timeout in [10, 2^53) and at most
// max_timeout_ms when that is set; at least one field. The rules are written
// out here rather than borrowed from fsm, so that a core that rejects a valid
// patch (or applies an invalid one) is caught too.
func (b ConfigBase) apply(s configState, in ConfigInput) (configState, bool) {
	if in.IntervalMs == nil && in.TimeoutMs == nil {
		return s, false
	}
	next := s
	if v := in.IntervalMs; v != nil {
		if *v != 0 && (*v < 10 || *v > maxDurationMs) {
			return s, false
		}
		next.interval = *v
	}
	if v := in.TimeoutMs; v != nil {
		if *v < 10 || *v > maxDurationMs || (b.MaxTimeoutMs > 0 && *v > b.MaxTimeoutMs) {
			return s, false
		}
		next.timeout = *v
	}
	next.active = true
	return next, true
}

// ConfigModel returns the porcupine model of the configuration register that
// starts at base. Step rules, for state S:
//
//	get → (i, t, a)          legal iff (i, t, a) = S
//	patch p → ok             legal iff p is valid; S' = S with p's fields, active
//	patch p → rejected       legal iff p is invalid; S' = S
//	patch p → unknown        always legal; S' = S with p's fields if p is valid, or S
//
// The last rule is nondeterministic (porcupine's NondeterministicModel, made
// a Model over sets of states): an unknown patch may never take effect. With
// the recorder's return of +∞ that branch is redundant — placing the patch
// last has the same effect — but a history whose unknown outcomes were settled
// by a restart (an unconfirmed patch is lost or durable by then, R50) gives
// them a finite return, and then "never" must be a branch of its own. An
// unknown patch that is invalid would be rejected, so it never changes S.
func ConfigModel(base ConfigBase) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []any {
			return []any{configState{interval: base.IntervalMs, timeout: base.TimeoutMs, active: base.OverridesActive}}
		},
		Step: func(state, input, output any) []any {
			s, in, out := state.(configState), input.(ConfigInput), output.(ConfigOutput)
			switch in.Op {
			case ConfigGet:
				if out.Outcome == OutcomeOK && out.IntervalMs == s.interval && out.TimeoutMs == s.timeout &&
					out.OverridesActive == s.active {
					return []any{s}
				}
			case ConfigPatch:
				next, valid := base.apply(s, in)
				switch {
				case out.Outcome == OutcomeOK && valid:
					return []any{next}
				case out.Outcome == OutcomeRejected && !valid:
					return []any{s}
				case out.Outcome == OutcomeUnknown && valid && next != s:
					return []any{next, s}
				case out.Outcome == OutcomeUnknown:
					return []any{s}
				}
			}
			return nil
		},
		Hash: func(state any) uint64 {
			s := state.(configState)
			h := uint64(s.interval)*0x9e3779b97f4a7c15 ^ uint64(s.timeout)*0xc2b2ae3d27d4eb4f
			if s.active {
				h = ^h
			}
			return h
		},
		DescribeOperation: func(input, output any) string {
			return describeConfigOp(input.(ConfigInput), output.(ConfigOutput))
		},
		DescribeState: func(state any) string {
			s := state.(configState)
			return describeConfigState(s.interval, s.timeout, s.active)
		},
	}
	return nm.ToModel()
}

func describeConfigState(interval, timeout int64, active bool) string {
	if active {
		return fmt.Sprintf("interval=%d timeout=%d (overrides)", interval, timeout)
	}
	return fmt.Sprintf("interval=%d timeout=%d (defaults)", interval, timeout)
}

func describeConfigOp(in ConfigInput, out ConfigOutput) string {
	if in.Op == ConfigGet {
		return "get → " + describeConfigState(out.IntervalMs, out.TimeoutMs, out.OverridesActive)
	}
	var fields []string
	if in.IntervalMs != nil {
		fields = append(fields, fmt.Sprintf("interval=%d", *in.IntervalMs))
	}
	if in.TimeoutMs != nil {
		fields = append(fields, fmt.Sprintf("timeout=%d", *in.TimeoutMs))
	}
	return fmt.Sprintf("patch(%s) → %s", strings.Join(fields, " "), out.Outcome)
}

// BoundUnknownPatches returns ops with the patches whose outcome is unknown
// narrowed down where the reads allow, as etcd's robustness tests patch their
// histories before checking. An unknown patch ends at +∞, and porcupine tries
// it at every later point: a few hundred of them make a check of a few
// thousand operations explode. The result is linearizable exactly when ops is:
//
//   - An unknown patch that is invalid never takes effect: dropped.
//   - An unknown patch none of whose values was ever read — no get shows its
//     interval (if it sets one) nor its timeout (if it sets one) — is dropped.
//     Had it taken effect, every get before each of its fields was overwritten
//     would show that field's value, so no get lies between it and the
//     overwrites, and the patches that overwrite set overridesActive
//     themselves: taking it out of a linearization leaves every get's reading
//     unchanged. Conversely a history without it is a history where it is
//     placed last.
//   - An unknown patch that wrote a value no other patch writes (nor the base),
//     and that some get shows, did take effect, before every get that shows
//     the value: it becomes an acknowledged patch returning at the earliest
//     return of such a get. (If such a get returned before the patch was
//     called, nothing is narrowed: the check will find that get illegal.)
//
// Anything else stays unknown, with its return. The test's clients make values
// unique so that these rules cover nearly every unknown patch.
func BoundUnknownPatches(base ConfigBase, ops []porcupine.Operation) []porcupine.Operation {
	type key struct {
		timeout bool
		value   int64
	}
	writers := map[key]int{{false, base.IntervalMs}: 1, {true, base.TimeoutMs}: 1}
	firstRead := map[key]int64{} // earliest return of a get showing the value
	seen := func(k key, ret int64) {
		if r, ok := firstRead[k]; !ok || ret < r {
			firstRead[k] = ret
		}
	}
	var zero configState
	for _, op := range ops {
		in, out := op.Input.(ConfigInput), op.Output.(ConfigOutput)
		switch in.Op {
		case ConfigGet:
			seen(key{false, out.IntervalMs}, op.Return)
			seen(key{true, out.TimeoutMs}, op.Return)
		case ConfigPatch:
			if _, valid := base.apply(zero, in); !valid {
				continue
			}
			if in.IntervalMs != nil {
				writers[key{false, *in.IntervalMs}]++
			}
			if in.TimeoutMs != nil {
				writers[key{true, *in.TimeoutMs}]++
			}
		}
	}
	out := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		in := op.Input.(ConfigInput)
		if in.Op != ConfigPatch || op.Output.(ConfigOutput).Outcome != OutcomeUnknown {
			out = append(out, op)
			continue
		}
		if _, valid := base.apply(zero, in); !valid {
			continue
		}
		var fields []key
		if in.IntervalMs != nil {
			fields = append(fields, key{false, *in.IntervalMs})
		}
		if in.TimeoutMs != nil {
			fields = append(fields, key{true, *in.TimeoutMs})
		}
		observed := false
		bound := int64(math.MaxInt64)
		for _, k := range fields {
			r, ok := firstRead[k]
			if !ok {
				continue
			}
			observed = true
			if writers[k] == 1 && r >= op.Call {
				bound = min(bound, r, op.Return)
			}
		}
		if !observed {
			continue
		}
		if bound != math.MaxInt64 {
			op.Return, op.Output = bound, ConfigOutput{Outcome: OutcomeOK}
		}
		out = append(out, op)
	}
	return out
}
