package flinklog

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// logLines builds a small log4j2 log for job jid from "logger|message" pairs,
// one second apart.
func logLines(lines ...string) []byte {
	var b strings.Builder
	for i, l := range lines {
		logger, msg, _ := strings.Cut(l, "|")
		fmt.Fprintf(&b, "2024-01-01 10:00:%02d,000 INFO  org.apache.flink.runtime.%s [] - %s\n", i, logger, msg)
	}
	return []byte(b.String())
}

const (
	cc = "checkpoint.CheckpointCoordinator"
	eg = "executiongraph.ExecutionGraph"
	a0 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0"
	a1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
)

func TestDebugAcksAndLateAcksOfKnownTasks(t *testing.T) {
	log := logLines(
		eg+"|Source: s (1/2) ("+a0+") switched from INITIALIZING to RUNNING.",
		eg+"|Source: s (2/2) ("+a1+") switched from INITIALIZING to RUNNING.",
		cc+"|Triggering checkpoint 1 (type=CHECKPOINT) @ 1 for job "+jid+".",
		cc+"|Received acknowledge message for checkpoint 1 from task "+a1+" of job "+jid+" at tm-1.",
		cc+"|Completed checkpoint 1 for job "+jid+" (10 bytes in 3 ms).",
		cc+"|Triggering checkpoint 2 (type=CHECKPOINT) @ 2 for job "+jid+".",
		cc+"|No master state to restore",
		cc+"|No master state to restore",
		cc+"|Checkpoint 2 of job "+jid+" expired before completing.",
		cc+"|Received late message for now expired checkpoint attempt 2 from task "+a0+" of job "+jid+" at tm-0.",
	)
	opt := DefaultOptions()
	opt.TimeoutMs = 3000
	im, res := importBytes(t, "acks.log", log, opt)
	var got []string
	for _, ev := range im.Events {
		if ev.Type == fsm.EvAck {
			got = append(got, fmt.Sprintf("%d@%d:%s", ev.Checkpoint, ev.At, im.topo.TaskName(ev.Task)))
		}
	}
	// s/1 acks when the log says so, s/0 when the completion is logged, and the
	// late ack of 2 comes from s/0, whose attempt the log deployed.
	if want := "1@3000:Source:s/1 1@4000:Source:s/0 2@9000:Source:s/0"; strings.Join(got, " ") != want {
		t.Errorf("acks %q, want %q", strings.Join(got, " "), want)
	}
	if len(res.Summary.Completed) != 1 || len(res.Summary.Aborted) != 1 || len(im.Mismatches) != 0 {
		t.Errorf("summary %+v, mismatches %+v", res.Summary, im.Mismatches)
	}
}

func TestRestartAfterTolerableFailureIsARecover(t *testing.T) {
	log := logLines(
		cc+"|Triggering checkpoint 1 (type=CHECKPOINT) @ 1 for job "+jid+".",
		cc+"|Completed checkpoint 1 for job "+jid+" (10 bytes in 3 ms).",
		cc+"|Triggering checkpoint 2 (type=CHECKPOINT) @ 2 for job "+jid+".",
		cc+"|Decline checkpoint 2 by task "+a0+" of job "+jid+" at tm-0.",
		"jobmaster.JobMaster|Trying to recover from a global failure.",
		eg+"|Job J ("+jid+") switched from state RUNNING to RESTARTING.",
		eg+"|Job J ("+jid+") switched from state RESTARTING to RUNNING.",
		cc+"|Restoring job "+jid+" from Checkpoint 1 @ 1 for "+jid+" located at <checkpoint-not-externally-addressable>.",
		cc+"|Triggering checkpoint 3 (type=CHECKPOINT) @ 3 for job "+jid+".",
		cc+"|Completed checkpoint 3 for job "+jid+" (10 bytes in 3 ms).",
	)
	// The JobMaster line carries no cause here: the tolerable value comes from the flag.
	opt := DefaultOptions()
	opt.Tolerable = 0
	im, res := importBytes(t, "restart.log", log, opt)
	var types []string
	for _, ev := range im.Events {
		types = append(types, ev.Type.String())
	}
	if got := strings.Join(types, " "); got != "start trigger ack persisted trigger decline recover trigger ack persisted" {
		t.Errorf("events: %s", got)
	}
	if res.Summary.Job != "running" || len(res.Summary.Completed) != 2 || len(im.Mismatches) != 0 {
		t.Errorf("summary %+v, mismatches %+v, notes %q", res.Summary, im.Mismatches, im.Notes)
	}
}
