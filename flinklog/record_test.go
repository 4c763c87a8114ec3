package flinklog

import (
	"strings"
	"testing"
)

func TestParseHeaderLayouts(t *testing.T) {
	cases := []struct {
		name, line                 string
		at                         int64
		ax                         axis
		thread, level, logger, msg string
	}{
		{"log4j2 with [] (1.11+)",
			"2021-08-18 18:28:40,502 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator    [] - Triggering checkpoint 1",
			1629311320502, axisDate, "", "INFO", "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "Triggering checkpoint 1"},
		{"log4j1 without [] (≤1.10)",
			"2019-05-17 15:43:08,068 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator     - Decline checkpoint 66",
			1558107788068, axisDate, "", "INFO", "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "Decline checkpoint 66"},
		{"logback thread column, '.' millis",
			"2023-03-18 02:20:33.877 [Checkpoint Timer] INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator - Triggering checkpoint 2",
			1679106033877, axisDate, "Checkpoint Timer", "INFO", "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "Triggering checkpoint 2"},
		{"thread after the level, nested brackets",
			"2023-03-18 02:20:33.877 WARN [Source: gen[1] -> Calc[2] (1/4)#0] o.a.f.r.taskmanager.Task - x switched from A to B",
			1679106033877, axisDate, "Source: gen[1] -> Calc[2] (1/4)#0", "WARN", "o.a.f.r.taskmanager.Task", "x switched from A to B"},
		{"time of day only (MiniCluster)",
			"08:55:45,960 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator    [] - Completed checkpoint 1",
			(8*3600+55*60+45)*1000 + 960, axisClock, "", "INFO", "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "Completed checkpoint 1"},
		{"ms since start (test layout)",
			"4873 [flink-akka.actor.default-dispatcher-3] INFO  org.apache.flink.runtime.executiongraph.ExecutionGraph [] - testVertex (1/1) (c2e1) switched",
			4873, axisRelative, "flink-akka.actor.default-dispatcher-3", "INFO", "org.apache.flink.runtime.executiongraph.ExecutionGraph", "testVertex (1/1) (c2e1) switched"},
		{"ISO T and zone",
			"2022-03-11T21:46:04.458+01:00 INFO org.apache.flink.runtime.checkpoint.CheckpointCoordinator [job-7] - Triggering",
			1647031564458, axisDate, "", "INFO", "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "Triggering"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, ax, ok := parseHeader(c.line)
			if !ok {
				t.Fatalf("not a header: %q", c.line)
			}
			if rec.at != c.at || ax != c.ax || rec.thread != c.thread || rec.level != c.level || rec.logger != c.logger || rec.msg != c.msg {
				t.Errorf("got at=%d axis=%d thread=%q level=%q logger=%q msg=%q", rec.at, ax, rec.thread, rec.level, rec.logger, rec.msg)
			}
		})
	}
}

func TestParseHeaderRejectsContinuations(t *testing.T) {
	for _, line := range []string{
		"at org.apache.flink.runtime.taskmanager.Task.run(Task.java:566) ~[flink-runtime_2.11-1.13.5.jar:1.13.5]",
		"Caused by: java.io.IOException: Size of the state is larger than the maximum permitted memory-backed state.",
		"... 18 more",
		"12:30:00 the meeting",                 // a clock without milliseconds
		"2 more lines",                         // a number without a level
		"2021-13-45 18:28:40,502 INFO x - y",   // not a date
		"2021-08-18 18:28:40,502 NOTICE x - y", // not a level
		"2021-08-18 18:28:40,502 INFO x [unclosed - y",
		"",
	} {
		if _, _, ok := parseHeader(line); ok {
			t.Errorf("parsed as a record header: %q", line)
		}
	}
}

func TestReadLogContinuationOrphansAndRollover(t *testing.T) {
	log := strings.Join([]string{
		"stray text before any record",
		"# an annotation",
		"23:59:59,900 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - first",
		"\tat frame.one(File.java:1)",
		"",
		"   Caused by: x",
		"00:00:00,100 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - after midnight",
		"2021-08-18 18:28:40,502 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - other clock",
	}, "\r\n")
	lf, err := readLog(strings.NewReader(log), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lf.records) != 2 || lf.annotations != 1 || lf.lines != 8 {
		t.Fatalf("records %d, annotations %d, lines %d", len(lf.records), lf.annotations, lf.lines)
	}
	if got := lf.records[0].cont; len(got) != 2 || got[0] != "at frame.one(File.java:1)" || got[1] != "Caused by: x" {
		t.Errorf("continuation lines: %q", got)
	}
	if d := lf.records[1].at - lf.records[0].at; d != 200 {
		t.Errorf("midnight rollover: second record is %d ms after the first, want 200", d)
	}
	if len(lf.orphans) != 2 || lf.orphans[0].Line != 1 || lf.orphans[1].Line != 8 {
		t.Errorf("orphans: %+v", lf.orphans)
	}
}

func TestReadLogCutsHugeLines(t *testing.T) {
	huge := "2021-08-18 18:28:40,502 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - " + strings.Repeat("x", 3*maxLine)
	lf, err := readLog(strings.NewReader(huge+"\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lf.records) != 1 || len(lf.records[0].msg) > maxLine {
		t.Fatalf("records %d, message length %d", len(lf.records), len(lf.records[0].msg))
	}
}
