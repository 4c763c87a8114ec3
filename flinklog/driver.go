package flinklog

import (
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// logTaskState is a subtask's state as the log shows it.
type logTaskState uint8

const (
	logRunning logTaskState = iota
	logDown
	logFinished
)

// driver turns the job's entries into events. It steps the core as it goes:
// what to emit depends on what the core already decided (is the checkpoint
// still pending? which subtasks does it wait for?), and every decision the
// core makes is compared with the log on the spot.
type driver struct {
	im   *Import
	pp   *prepass
	es   []*entry
	opt  Options
	cfg  fsm.Config
	st   *fsm.State
	topo *fsm.Topology
	chk  *invariants.Checker

	t0, now   int64
	cur       *entry // the entry being mapped
	commented *entry // the entry whose comment was written last
	used      map[*entry]bool
	annotated map[*entry]bool // understood lines written as comments: no event

	byName       map[string]int        // Flink task name -> vertex index
	attempts     map[string]fsm.TaskID // execution attempt id -> subtask
	vertexHex    map[string]int        // Flink JobVertexID -> vertex index (1.16+ attempt ids embed it)
	logTask      []logTaskState        // per subtask
	logJob       string                // the log's job status
	rows         map[int64]*CheckpointRow
	rowTrig      map[int64]*entry // log id -> its trigger entry
	rowOrder     []int64          // log ids in trigger order
	coreOf       map[int64]int64  // log id -> core id
	queue        []int64          // log ids whose request waits in the core (0: a request with no id)
	persist      map[int64]bool   // core ids the core is persisting
	lastLogID    int64
	lastTol      int64
	lastCore     int64           // the highest id the core allocated
	lastJobLine  int             // the log line of the job's last status change
	lastTolClaim int64           // when the last tolerable-failure claim was made
	claimID      map[int64]int64 // log id -> the core id the claims about it name
}

func newDriver(im *Import, spec fsm.JobSpec, cfg fsm.Config, pp *prepass, es []*entry, opt Options) (*driver, error) {
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		return nil, err
	}
	st, err := fsm.New(topo, cfg)
	if err != nil {
		return nil, err
	}
	d := &driver{im: im, pp: pp, es: es, opt: opt, cfg: cfg, st: st, topo: topo, chk: invariants.New(topo, cfg),
		used: map[*entry]bool{}, annotated: map[*entry]bool{}, byName: map[string]int{}, attempts: map[string]fsm.TaskID{}, vertexHex: map[string]int{},
		logTask: make([]logTaskState, topo.NumSubtasks()), logJob: "RUNNING", rows: map[int64]*CheckpointRow{},
		rowTrig: map[int64]*entry{}, coreOf: map[int64]int64{}, persist: map[int64]bool{}, lastTol: -1 << 62, lastTolClaim: -1 << 62,
		claimID: map[int64]int64{}}
	for i, v := range im.Topology.Vertices {
		d.byName[v.Name] = i
	}
	if len(es) > 0 {
		d.t0 = es[0].rec.at
	}
	im.topo = topo
	im.logOf = map[int64]int64{}
	return d, nil
}

func (d *driver) at(e *entry) int64 { return max(e.rec.at-d.t0, d.now) }

// emit steps the core with one event and records it. comment, if any, is
// written before the event in the history.
func (d *driver) emit(ev fsm.Event, comment string) []fsm.Effect {
	ev.At = max(ev.At, d.now)
	effs, err := d.st.Step(ev)
	if err != nil {
		// The driver only builds events the core accepts; say so if it did not.
		d.im.Notes = append(d.im.Notes, fmt.Sprintf("internal: the core refused %s: %v", fsm.DescribeEvent(d.topo, ev), err))
		return nil
	}
	i := len(d.im.Events)
	if d.cur != nil && d.commented != d.cur {
		d.im.comments[i] = append(d.im.comments[i], fmt.Sprintf("// log line %d: %s", d.cur.rec.line, clip(d.cur.rec.msg)))
		d.commented = d.cur
	}
	if comment != "" {
		d.im.comments[i] = append(d.im.comments[i], "// "+comment)
	}
	if d.cur != nil {
		d.used[d.cur] = true
	}
	for _, v := range d.chk.Step(ev, effs, d.st) {
		d.im.Violations = append(d.im.Violations, fmt.Sprintf("event %d (%s): %v", i+1, fsm.DescribeEvent(d.topo, ev), v))
	}
	d.im.Events = append(d.im.Events, ev)
	d.now = ev.At
	out := append([]fsm.Effect(nil), effs...)
	d.observe(out)
	return out
}

// observe records the core's decisions per logged checkpoint.
func (d *driver) observe(effs []fsm.Effect) {
	pop := func() int64 {
		if len(d.queue) == 0 {
			return 0
		}
		l := d.queue[0]
		d.queue = d.queue[1:]
		return l
	}
	for _, f := range effs {
		switch f.Type {
		case fsm.EffTrigger:
			d.lastCore = max(d.lastCore, f.Checkpoint)
			if l := pop(); l != 0 {
				d.coreOf[l] = f.Checkpoint
				d.im.logOf[f.Checkpoint] = l
				r := d.rows[l]
				r.ID, r.Core = f.Checkpoint, "pending"
				if f.Checkpoint != l {
					r.Note = addNote(r.Note, fmt.Sprintf("renumbered: the core's id is %d", f.Checkpoint))
				}
			}
		case fsm.EffTriggerFailed:
			if l := pop(); l != 0 {
				r := d.rows[l]
				r.Core = "refused (" + string(f.Reason) + ")"
				d.mismatch(d.rowTrig[l], fmt.Sprintf("triggered checkpoint %d", l),
					fmt.Sprintf("refused the request: %s (%s)", f.Reason, f.Message))
			}
		case fsm.EffPersist:
			d.persist[f.Checkpoint] = true
		case fsm.EffCompleted:
			if r := d.rowOfCore(f.Checkpoint); r != nil {
				r.Core, r.coreDone = "completed ("+f.Mode.String()+")", true
			}
		case fsm.EffAbort:
			if r := d.rowOfCore(f.Checkpoint); r != nil {
				r.Core, r.coreDone = "aborted ("+string(f.Reason)+")", true
				if f.Message != "" && !strings.HasPrefix(f.Message, "declined by") {
					r.Note = addNote(r.Note, "core: "+f.Message)
				}
			}
		case fsm.EffFailJob, fsm.EffFinishJob:
			// The core drops requests still waiting for a slot.
			for _, l := range d.queue {
				if r := d.rows[l]; l != 0 && r != nil {
					r.Core = "dropped (the job ended)"
				}
			}
			d.queue = nil
		}
	}
}

// claim writes a //claim line after the events so far: what the current log
// line says had been decided by now (history/claims.go).
func (d *driver) claim(format string, args ...any) {
	line := 0
	if d.cur != nil {
		line = d.cur.rec.line
	}
	i := len(d.im.Events)
	d.im.comments[i] = append(d.im.comments[i], history.ClaimPrefix+fmt.Sprintf("log line %d: ", line)+fmt.Sprintf(format, args...))
	d.im.Stats.Claims++
}

// claimOutcome writes the claim of the line that ends a checkpoint in the log.
func (d *driver) claimOutcome(e *entry) {
	c := d.pp.ckpts[e.id]
	id := d.claimID[e.id]
	if c == nil || c.end != e || id == 0 {
		return
	}
	note := ""
	if id != e.id {
		note = fmt.Sprintf(" -- log id %d", e.id)
	}
	switch c.outcome {
	case "completed":
		d.claim("completed %d%s", id, note)
	case "expired":
		d.claim("aborted %d %s%s", id, fsm.ReasonExpired, note)
	case "declined":
		d.claim("aborted %d %s%s", id, declineReasonOrDefault(c.reason), note)
	default:
		if r := failureReason(e.detail + "\n" + e.rec.text()); r == fsm.ReasonExpired || fsm.ValidDeclineReason(r) {
			d.claim("aborted %d %s%s", id, r, note)
		} else {
			d.claim("aborted %d%s", id, note)
		}
	}
}

func declineReasonOrDefault(r fsm.Reason) fsm.Reason {
	if r == "" {
		return fsm.ReasonDeclined
	}
	return r
}

func (d *driver) rowOfCore(id int64) *CheckpointRow {
	if l, ok := d.im.logOf[id]; ok {
		return d.rows[l]
	}
	return nil
}

func addNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (d *driver) mismatch(e *entry, log, core string) {
	m := Mismatch{Log: log, Core: core}
	if e != nil {
		m.Line, m.Text = e.rec.line, clip(e.rec.msg)
	}
	d.im.Mismatches = append(d.im.Mismatches, m)
}

func (d *driver) note(format string, args ...any) {
	d.im.Notes = append(d.im.Notes, fmt.Sprintf(format, args...))
}

func (d *driver) pending(core int64) (fsm.PendingInfo, bool) {
	for _, p := range d.st.Pending() {
		if p.ID == core {
			return p, true
		}
	}
	return fsm.PendingInfo{}, false
}

// resolve finds the subtask an entry names: by task name, by execution
// attempt id (learned from transitions and deployments), or by the vertex id
// that 1.16+ attempt ids embed.
func (d *driver) resolve(e *entry) (fsm.TaskID, bool) {
	if e.hasTask {
		if id, ok := d.byTask(e.task); ok {
			return id, true
		}
	}
	if e.attempt == "" {
		return 0, false
	}
	if id, ok := d.attempts[e.attempt]; ok {
		return id, true
	}
	if p := strings.Split(e.attempt, "_"); len(p) == 4 {
		if vi, ok := d.vertexHex[p[1]]; ok {
			v := d.topo.Vertices()[vi]
			if idx := int(atoi64(p[2])); idx >= 0 && idx < v.Parallelism {
				return v.First + fsm.TaskID(idx), true
			}
		}
	}
	return 0, false
}

func (d *driver) byTask(t taskRef) (fsm.TaskID, bool) {
	vi, ok := d.byName[t.name]
	if !ok {
		return 0, false
	}
	v := d.topo.Vertices()[vi]
	if t.index < 0 || t.index >= v.Parallelism {
		return 0, false
	}
	return v.First + fsm.TaskID(t.index), true
}

func (d *driver) learn(e *entry, id fsm.TaskID) {
	if e.attempt == "" {
		return
	}
	d.attempts[e.attempt] = id
	if p := strings.Split(e.attempt, "_"); len(p) == 4 {
		d.vertexHex[p[1]] = d.topo.VertexOf(id)
	}
}

func (d *driver) name(id fsm.TaskID) string { return d.topo.TaskName(id) }
