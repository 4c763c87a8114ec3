package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// SummaryFormat is the format string of a replay summary.
const SummaryFormat = "ckpt-summary/v1"

// Summary is the outcome of a replay (HISTORY.md, "Summary"). Its JSON field
// order is the document's; Encode renders it byte-identically across runs.
type Summary struct {
	Format          string           `json:"format"`
	Events          int              `json:"events"`
	Triggered       []Triggered      `json:"triggered"`
	Completed       []Completed      `json:"completed"`
	Aborted         []Aborted        `json:"aborted"`
	TriggerFailures []TriggerFailure `json:"trigger_failures"`
	Discarded       []int64          `json:"discarded"`
	Retained        []int64          `json:"retained"`
	Job             string           `json:"job"`
	FailReason      *string          `json:"fail_reason"`
	Config          SummaryConfig    `json:"config"`
	MaxRefAge       int64            `json:"max_ref_age"`
	Violations      []Violation      `json:"violations"`
	// Truncated is set when a list reached Options.MaxListed and kept only
	// its first entries (HISTORY.md, "Summary"); nil otherwise.
	Truncated *Truncated `json:"truncated,omitempty"`
}

// DefaultMaxListed is the cap `ckpt replay` puts on each list of its summary:
// enough for any history a person reads, while the summary's memory stays
// bounded (about 1.2 KB an entry at peak) whatever the input's length.
const DefaultMaxListed = 10000

// Truncated says that the summary's lists keep only their first Limit
// entries, and how many each had in all.
type Truncated struct {
	Limit           int `json:"limit"`
	Triggered       int `json:"triggered"`
	Completed       int `json:"completed"`
	Aborted         int `json:"aborted"`
	TriggerFailures int `json:"trigger_failures"`
	Discarded       int `json:"discarded"`
	Violations      int `json:"violations"`
}

// Triggered is a checkpoint that got an id: when, its kind, whether forced global.
type Triggered struct {
	ID           int64  `json:"id"`
	At           int64  `json:"at"`
	Kind         string `json:"kind"`
	ForcedGlobal bool   `json:"forced_global"`
}

// Completed is one completion: kind, mode, for every region the checkpoint
// whose state it uses, and the total sizes of the acks it kept (bytes; left out
// when no ack reported a size).
type Completed struct {
	ID               int64  `json:"id"`
	Kind             string `json:"kind"`
	Mode             string `json:"mode"`
	Refs             Refs   `json:"refs"`
	StateSize        int64  `json:"state_size,omitempty"`
	CheckpointedSize int64  `json:"checkpointed_size,omitempty"`
}

// Aborted is a triggered checkpoint that ended without completing.
type Aborted struct {
	ID      int64  `json:"id"`
	Reason  string `json:"reason"`
	Counted bool   `json:"counted"`
}

// TriggerFailure is a request that ended without an id, and when it did.
type TriggerFailure struct {
	At     int64  `json:"at"`
	Reason string `json:"reason"`
}

// SummaryConfig is the configuration in force at the end (R63).
type SummaryConfig struct {
	IntervalMs      int64 `json:"interval_ms"`
	TimeoutMs       int64 `json:"timeout_ms"`
	OverridesActive bool  `json:"overrides_active"`
}

// Violation is an invariant that failed after the event on Line.
type Violation struct {
	Invariant string `json:"invariant"`
	Line      int    `json:"line"`
	Event     string `json:"event"`
	Detail    string `json:"detail"`
}

// Refs maps every region, by index, to the checkpoint whose state it uses. It
// is written as {"r0":3,"r1":2} in region order (a Go map would sort "r10"
// before "r2").
type Refs []int64

// MarshalJSON writes the refs in region order.
func (r Refs) MarshalJSON() ([]byte, error) {
	o := newObject()
	for i, id := range r {
		o.int(fsm.RegionName(i), id)
	}
	return o.bytes(), nil
}

// UnmarshalJSON reads {"r0":3,...}; every region from r0 up must be present.
func (r *Refs) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(Refs, len(m))
	for k, v := range m {
		i, err := fsm.ParseRegion(k, len(m))
		if err != nil {
			return fmt.Errorf("refs: %v", err)
		}
		out[i] = v
	}
	*r = out
	return nil
}

// Encode renders the summary as one JSON document laid out as in HISTORY.md:
// one top-level key a line, values compact, newline-terminated.
func (s *Summary) Encode() []byte {
	var b bytes.Buffer
	field := func(first bool, key string, v any) {
		if first {
			b.WriteString("{")
		} else {
			b.WriteString(",\n ")
		}
		b.Write(appendString(nil, key))
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			// Every value here is a plain struct, slice or scalar; this cannot
			// happen, but a broken document must not look valid.
			vb.Reset()
			vb.WriteString(strconv.Quote("unencodable: " + err.Error()))
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	field(true, "format", s.Format)
	field(false, "events", s.Events)
	field(false, "triggered", orEmpty(s.Triggered))
	field(false, "completed", orEmpty(s.Completed))
	field(false, "aborted", orEmpty(s.Aborted))
	field(false, "trigger_failures", orEmpty(s.TriggerFailures))
	field(false, "discarded", orEmpty(s.Discarded))
	field(false, "retained", orEmpty(s.Retained))
	field(false, "job", s.Job)
	field(false, "fail_reason", s.FailReason)
	field(false, "config", s.Config)
	field(false, "max_ref_age", s.MaxRefAge)
	field(false, "violations", orEmpty(s.Violations))
	if s.Truncated != nil {
		field(false, "truncated", s.Truncated)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// orEmpty makes a nil slice print as [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// summarizer accumulates the summary from the effects of each step.
type summarizer struct {
	topo       *fsm.Topology
	sum        Summary
	counts     Counts
	countsOnly bool
	maxListed  int // 0: no cap
	violations int // all of them, listed or not
}

func newSummarizer(t *fsm.Topology, countsOnly bool, maxListed int) *summarizer {
	return &summarizer{topo: t, countsOnly: countsOnly, maxListed: maxListed, sum: Summary{Format: SummaryFormat,
		Triggered: []Triggered{}, Completed: []Completed{}, Aborted: []Aborted{},
		TriggerFailures: []TriggerFailure{}, Discarded: []int64{}, Retained: []int64{},
		Violations: []Violation{}}}
}

// step records one step's effects. Times come from the effects themselves: an
// expiry or a periodic request happens at its own due time, which may be
// earlier than the event that made time pass (R10).
func (m *summarizer) step(effs []fsm.Effect) {
	m.sum.Events++
	for i := range effs {
		e := &effs[i]
		switch e.Type {
		case fsm.EffTrigger:
			m.counts.Triggered++
			if m.list(m.counts.Triggered) {
				m.sum.Triggered = append(m.sum.Triggered, Triggered{ID: e.Checkpoint, At: e.At,
					Kind: e.Kind.String(), ForcedGlobal: e.ForcedGlobal})
			}
		case fsm.EffCompleted:
			m.counts.Completed++
			for r := 0; r < m.topo.NumRegions(); r++ {
				m.sum.MaxRefAge = max(m.sum.MaxRefAge, e.Checkpoint-e.RefOf(r))
			}
			if m.list(m.counts.Completed) {
				refs := make(Refs, m.topo.NumRegions())
				for r := range refs {
					refs[r] = e.RefOf(r)
				}
				m.sum.Completed = append(m.sum.Completed, Completed{ID: e.Checkpoint, Kind: e.Kind.String(),
					Mode: e.Mode.String(), Refs: refs, StateSize: e.StateSize, CheckpointedSize: e.CheckpointedSize})
			}
		case fsm.EffAbort:
			m.counts.Aborted++
			if m.list(m.counts.Aborted) {
				m.sum.Aborted = append(m.sum.Aborted, Aborted{ID: e.Checkpoint, Reason: string(e.Reason), Counted: e.Counted})
			}
		case fsm.EffTriggerFailed:
			m.counts.TriggerFailures++
			if m.list(m.counts.TriggerFailures) {
				m.sum.TriggerFailures = append(m.sum.TriggerFailures, TriggerFailure{At: e.At, Reason: string(e.Reason)})
			}
		case fsm.EffDiscard:
			m.counts.Discarded++
			if m.list(m.counts.Discarded) {
				m.sum.Discarded = append(m.sum.Discarded, e.Checkpoint)
			}
		}
	}
}

// list reports whether the n-th entry of a list is kept.
func (m *summarizer) list(n int) bool {
	return !m.countsOnly && (m.maxListed <= 0 || n <= m.maxListed)
}

// violation records an invariant violation (kept like a list entry; the
// violations are always listed, also with countsOnly, since they are the
// replay's verdict).
func (m *summarizer) violation(v Violation) {
	m.violations++
	if m.maxListed <= 0 || m.violations <= m.maxListed {
		m.sum.Violations = append(m.sum.Violations, v)
	}
}

// finish fills in what the final state says.
func (m *summarizer) finish(s *fsm.State) (Summary, Counts) {
	sum := m.sum
	sum.Retained = append([]int64{}, s.Retained()...)
	sort.Slice(sum.Retained, func(a, b int) bool { return sum.Retained[a] < sum.Retained[b] })
	sum.Job = s.Job().String()
	if r := s.FailReason(); r != "" {
		reason := string(r)
		sum.FailReason = &reason
	}
	eff := s.Effective()
	sum.Config = SummaryConfig{IntervalMs: eff.IntervalMs, TimeoutMs: eff.TimeoutMs, OverridesActive: eff.OverridesActive}
	if c := m.counts; m.maxListed > 0 && !m.countsOnly && max(c.Triggered, c.Completed, c.Aborted, c.TriggerFailures, c.Discarded) > m.maxListed ||
		m.maxListed > 0 && m.violations > m.maxListed {
		sum.Truncated = &Truncated{Limit: m.maxListed, Triggered: c.Triggered, Completed: c.Completed, Aborted: c.Aborted,
			TriggerFailures: c.TriggerFailures, Discarded: c.Discarded, Violations: m.violations}
	}
	return sum, m.counts
}
