package flinklog

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// taskState maps the JobManager's view of a subtask (TaskManager lines
// duplicate it and are only read for attempt ids).
func (d *driver) taskState(e *entry) {
	id, ok := d.byTask(e.task)
	if !ok {
		return
	}
	d.learn(e, id)
	if e.tm {
		return
	}
	at := d.at(e)
	switch e.to {
	case "RUNNING":
		d.logTask[id] = logRunning
		if !d.st.TaskRunning(id) && !d.st.TaskFinished(id) {
			d.emit(fsm.Event{At: at, Type: fsm.EvTaskRunning, Task: id}, "")
		}
	case "FINISHED":
		d.logTask[id] = logFinished
		if !d.st.TaskFinished(id) {
			d.emit(fsm.Event{At: at, Type: fsm.EvTaskFinished, Task: id}, "")
		}
	case "FAILED", "CANCELING", "CANCELED":
		if jobEnding(d.logJob) {
			return // the job is cancelled or failed for good: not a failover
		}
		d.logTask[id] = logDown
		if d.st.TaskRunning(id) {
			r := d.topo.RegionOf(id)
			d.emit(fsm.Event{At: at, Type: fsm.EvTaskFailed, Task: id},
				fmt.Sprintf("the core fails over region %s (%d subtasks)", fsm.RegionName(r), len(d.topo.RegionTasks(r))))
		}
	default:
		d.logTask[id] = logDown // scheduled, deploying, initializing: not running yet
	}
}

func jobEnding(s string) bool {
	switch s {
	case "CANCELLING", "CANCELED", "FAILED", "FINISHED", "SUSPENDED":
		return true
	}
	return false
}

// jobState maps the job's status: a whole-job restart fails every region over,
// and a job that runs again after the core failed it (tolerable failures
// exceeded) is a recover event, the core's only way back from a failed job.
func (d *driver) jobState(e *entry) {
	d.logJob = e.to
	switch e.to {
	case "RUNNING":
		if d.st.Job() == fsm.JobFailed {
			d.emit(fsm.Event{At: d.at(e), Type: fsm.EvRecover},
				"Flink restarted the job the core had failed: modelled as recover (R50): pending checkpoints end `recovered`, the failure count clears")
		}
	case "RESTARTING", "FAILING":
		if d.st.Job() == fsm.JobRunning {
			d.failAll("the whole job restarts: every region fails over")
		}
	}
	if (e.to == "FAILING" || e.to == "FAILED") && !e.tolerable && d.st.Job() == fsm.JobRunning {
		cause := "the excerpt does not show why"
		if len(e.rec.cont) > 0 {
			cause = "cause: " + clip(e.rec.cont[0])
		}
		d.note("line %d: the job switched to %s (%s); the core's job keeps running: it fails a job only when counted checkpoint failures exceed tolerable_failures (R30)",
			e.rec.line, e.to, cause)
	}
}

// failAll fails over every region that still runs.
func (d *driver) failAll(why string) {
	first := true
	for r := 0; r < d.topo.NumRegions(); r++ {
		for _, id := range d.topo.RegionTasks(r) {
			if d.st.TaskRunning(id) {
				comment := ""
				if first {
					comment, first = why, false
				}
				d.emit(fsm.Event{At: d.at(d.cur), Type: fsm.EvTaskFailed, Task: id}, comment)
				break
			}
		}
	}
	for i := range d.logTask {
		if d.logTask[i] == logRunning {
			d.logTask[i] = logDown
		}
	}
}

// restore checks a restore after a failover against the core's latest
// completed checkpoint.
func (d *driver) restore(e *entry) {
	if d.st.Job() == fsm.JobFailed {
		d.emit(fsm.Event{At: d.at(e), Type: fsm.EvRecover},
			"Flink restores the job the core had failed: modelled as recover (R50)")
	}
	if e.detail != "Checkpoint" {
		return
	}
	want := d.coreOf[e.id]
	if id := d.claimID[e.id]; id != 0 {
		d.claim("restored %d", id)
	}
	got, ok := d.st.LatestCompleted()
	if want == 0 || !ok || got.ID != want {
		core := "has no completed checkpoint"
		if ok {
			core = fmt.Sprintf("would restore checkpoint %d (log id %d)", got.ID, d.im.logOf[got.ID])
		}
		d.mismatch(e, fmt.Sprintf("restored checkpoint %d", e.id), core)
	}
}

// checkTolerable compares a threshold failure in the log with the core.
func (d *driver) checkTolerable(e *entry) {
	if e.rec.at-d.lastTol <= 2000 {
		return
	}
	d.lastTol = e.rec.at
	if d.st.Job() == fsm.JobFailed && d.st.FailReason() == fsm.ReasonTolerableExceeded {
		return
	}
	d.mismatch(e, "the job failed: "+tolerableText,
		fmt.Sprintf("the job is %s with %d counted failures (tolerable_failures %d)", d.st.Job(), d.st.Failures(), d.cfg.TolerableFailures))
}
