package driver

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAckSizesReachStatus: the sizes acks report reach the completed effect the
// executor sees, the status and the flight recorder's history.
func TestAckSizesReachStatus(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(1000))
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	for task := fsm.TaskID(0); task < 4; task++ {
		if err := h.d.AckWithSizes(1, task, 1000+int64(task), 10); err != nil {
			t.Fatal(err)
		}
	}
	e := h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if e.StateSize != 4006 || e.CheckpointedSize != 40 {
		t.Fatalf("completed effect sizes %d/%d, want 4006/40", e.StateSize, e.CheckpointedSize)
	}
	st := h.status()
	if c := st.LatestCompleted; c == nil || c.StateSize != 4006 || c.CheckpointedSize != 40 {
		t.Fatalf("status latest completed: %+v", c)
	}
	if err := h.d.AckWithSizes(1, 0, -5, 0); err != nil {
		t.Fatal(err)
	}
	if n := h.status().RefusedEvents; n != 1 {
		t.Fatalf("a negative size: %d events refused, want 1", n)
	}
	flight, err := os.ReadFile(h.d.FlightFile())
	if err != nil || !strings.Contains(string(flight), `"task":"sink/1","state_size":1003,"checkpointed_size":10`) {
		t.Fatalf("the flight recorder lost the sizes (%v):\n%s", err, flight)
	}
}
