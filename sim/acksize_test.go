package sim

import "testing"

// TestAckSizesReported: every ack reports the configured sizes, so a global
// completion totals them over every subtask, and a run with sizes draws the same
// random choices as one without (same outcome).
func TestAckSizesReported(t *testing.T) {
	p := DefaultParams(10)
	p.DurationMs = 10_500
	plain, err := Run(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.AckStateBytes, p.AckCheckpointedBytes = 1<<20, 4096
	st, err := Run(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(st.Subtasks)
	if st.CompletedGlobal == 0 || st.LastStateBytes != n<<20 || st.LastCheckpointedBytes != n*4096 ||
		st.StateBytes != int64(st.CompletedGlobal)*n<<20 {
		t.Fatalf("sizes not totalled over %d subtasks:\n%s", n, &st)
	}
	if st.Triggered != plain.Triggered || st.Completed() != plain.Completed() || st.Events != plain.Events {
		t.Fatalf("sizes changed the run:\n%s\n---\n%s", &st, &plain)
	}
	p.AckStateBytes = -1
	if _, err := Run(p, nil); err == nil {
		t.Fatal("a negative size was accepted")
	}
}
