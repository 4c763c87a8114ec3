package flinklog

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Unparsed is a line the import could not interpret, with the reason.
type Unparsed struct {
	Line int    `json:"line"`
	Text string `json:"text"`
	Why  string `json:"why"`
}

// JobLines counts the checkpoint lines a log has for one job, as importing
// that job counts them (Stats.CheckpointLines: lines that name no job, such
// as task transitions, count for every job).
type JobLines struct {
	Job   string `json:"job"`
	Lines int    `json:"checkpoint_lines"`
	// Decisive counts its triggers, completions, declines, expiries, failures
	// and late acks: the job with the most is imported by default.
	Decisive int `json:"decisive_lines"`
}

// parsed is a log whose every record has been interpreted.
type parsed struct {
	file    *logFile
	entries []entry // one per record, in file order
	jobs    []JobLines
}

func parseLog(r io.Reader, wrap int) (*parsed, error) {
	lf, err := readLog(r, wrap)
	if err != nil {
		return nil, err
	}
	p := &parsed{file: lf, entries: make([]entry, len(lf.records))}
	count, decisive := map[string]int{}, map[string]int{}
	first := map[string]int{}
	shared := 0 // checkpoint lines that name no job: every job's import reads them
	for i := range lf.records {
		p.entries[i] = interpret(&lf.records[i])
	}
	attributeTasks(p.entries)
	for i := range p.entries {
		e := &p.entries[i]
		if e.job == "" {
			if isCheckpointLine(&p.entries[i]) {
				shared++
			}
			continue
		}
		if _, ok := first[e.job]; !ok {
			first[e.job] = i
			count[e.job] += 0
		}
		if isCheckpointLine(&p.entries[i]) {
			count[e.job]++
		}
		switch e.kind {
		case kTrigger, kCompleted, kDecline, kDeclined, kExpired, kFailed, kLate, kTriggerFailed, kDiscard:
			decisive[e.job]++
		}
	}
	for j, n := range count {
		p.jobs = append(p.jobs, JobLines{j, n + shared, decisive[j]})
	}
	// Most decisive lines first, then most checkpoint lines; ties go to the
	// job the log mentions first.
	sort.Slice(p.jobs, func(a, b int) bool {
		if p.jobs[a].Decisive != p.jobs[b].Decisive {
			return p.jobs[a].Decisive > p.jobs[b].Decisive
		}
		if p.jobs[a].Lines != p.jobs[b].Lines {
			return p.jobs[a].Lines > p.jobs[b].Lines
		}
		return first[p.jobs[a].Job] < first[p.jobs[b].Job]
	})
	return p, nil
}

// attributeTasks gives task transitions and deployments, which name no job,
// to the job they belong to when the log has several: the job a line shows
// for the execution graph the attempt id starts with (1.16+ ids), else the job
// whose task first had that name, else the job whose status last changed to
// CREATED, INITIALIZING or RUNNING before the task was first named (Flink
// schedules a job's tasks as it starts). Lines it cannot place stay with no
// job and go to whichever job is imported. With one job, nothing changes.
func attributeTasks(es []entry) {
	jobs := map[string]bool{}
	graphJob := map[string]string{}
	for i := range es {
		if e := &es[i]; e.job != "" {
			jobs[e.job] = true
			if g := graphOf(e.attempt); g != "" {
				graphJob[g] = e.job
			}
		}
	}
	if len(jobs) < 2 {
		return
	}
	owner := map[string]string{} // task name -> job
	started := ""
	for i := range es {
		e := &es[i]
		switch {
		case e.kind == kJobState && (e.to == "CREATED" || e.to == "INITIALIZING" || e.to == "RUNNING"):
			started = e.job
		case (e.kind == kTaskState || e.kind == kDeploy) && e.job == "" && e.hasTask:
			if j, ok := graphJob[graphOf(e.attempt)]; ok {
				e.job = j
			} else if j, ok := owner[e.task.name]; ok {
				e.job = j
			} else {
				e.job = started
			}
			if _, ok := owner[e.task.name]; !ok && e.job != "" {
				owner[e.task.name] = e.job
			}
		}
	}
}

// graphOf is the execution graph id a 1.16+ attempt id
// (graph_vertex_subtask_attempt) starts with, or "".
func graphOf(attempt string) string {
	if p := strings.Split(attempt, "_"); len(p) == 4 {
		return p[0]
	}
	return ""
}

// pickJob returns the job to import: the one asked for, or the one with the
// most decisive lines (triggers and outcomes).
func (p *parsed) pickJob(want string) (string, error) {
	if len(p.jobs) == 0 {
		return "", fmt.Errorf("no job id in the log: no Flink checkpoint line was recognised (%d lines, %d records)",
			p.file.lines, len(p.file.records))
	}
	if want == "" {
		return p.jobs[0].Job, nil
	}
	for _, j := range p.jobs {
		if strings.EqualFold(j.Job, want) {
			return j.Job, nil
		}
	}
	var ids []string
	for _, j := range p.jobs {
		ids = append(ids, fmt.Sprintf("%s (%d checkpoint lines)", j.Job, j.Lines))
	}
	return "", fmt.Errorf("job %s is not in the log; it has %s", want, strings.Join(ids, ", "))
}

// jobEntries returns the entries that belong to job, sorted by time (stable):
// lines that name the job, and lines that name none (task transitions,
// failover decisions), which a JobManager log prints without the job id. It
// also returns how many records went out of timestamp order and by how much at
// most: threads write their lines late, and the timestamp says when it happened.
func (p *parsed) jobEntries(job string) (es []*entry, inversions int, worst int64, worstLine int) {
	var prev int64
	var prevLine int
	for i := range p.entries {
		e := &p.entries[i]
		if e.job != "" && e.job != job {
			continue
		}
		if e.kind == kNone && !checkpointLine(e.rec) {
			continue
		}
		if len(es) > 0 && e.rec.at < prev {
			inversions++
			if d := prev - e.rec.at; d > worst {
				worst, worstLine = d, prevLine
			}
		}
		prev, prevLine = e.rec.at, e.rec.line
		es = append(es, e)
	}
	sort.SliceStable(es, func(a, b int) bool { return es[a].rec.at < es[b].rec.at })
	return es, inversions, worst, worstLine
}
