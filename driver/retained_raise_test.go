package driver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestRaisingRetainedAtRestart: with num-retained 1, checkpoint 2 completes
// regionally (region r1 uses 1) and 3 regionally (r0 uses 2): 3 is retained,
// 2 stays only because 3 uses it, and 1 — used by 2 alone, which is not
// retained — is discarded. A restart with num-retained 3 must not make 2
// retained (and restorable) again: its region r1 would restore from
// discarded state (I-RetentionSafety). It stays a referenced entry, a warning
// says why, and the checkpoint 3 is the one restored.
func TestRaisingRetainedAtRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(3_600_000) // manual triggers only
	cfg.Retained, cfg.TolerableFailures = 1, 10
	h := openHarness(t, dir, cfg)
	next := int64(1)
	ckpt := func(ack []fsm.TaskID, decline fsm.TaskID) fsm.Effect {
		t.Helper()
		if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
			t.Fatal(err)
		}
		tr := h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, next))
		next++
		h.ackAll(tr.Checkpoint, ack...)
		if decline >= 0 {
			if err := h.d.Decline(tr.Checkpoint, decline, ""); err != nil {
				t.Fatal(err)
			}
		}
		h.clock.Advance(time.Millisecond)
		return h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, tr.Checkpoint))
	}
	ckpt([]fsm.TaskID{0, 1, 2, 3}, -1)
	if c := ckpt([]fsm.TaskID{0, 2}, 1); c.Checkpoint != 2 || c.RefOf(1) != 1 {
		t.Fatalf("checkpoint 2: %+v", c)
	}
	if c := ckpt([]fsm.TaskID{1, 3}, 0); c.Checkpoint != 3 || c.RefOf(0) != 2 || c.RefOf(1) != 3 {
		t.Fatalf("checkpoint 3: %+v", c)
	}
	h.flush()
	if got := h.exec.discarded(); !slices.Equal(got, []int64{1}) {
		t.Fatalf("discarded %v, want [1] (2 stays: 3 uses it)", got)
	}
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.Retained = 3
	h = reopenHarness(t, dir, cfg, h.clock)
	st := h.status()
	if !slices.Equal(st.Retained, []int64{3}) {
		t.Errorf("retained after the restart: %v, want [3]: checkpoint 2 uses the discarded 1", st.Retained)
	}
	d, err := h.d.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	var stored []int64
	for _, k := range d.Known {
		stored = append(stored, k.ID)
	}
	if !slices.Equal(stored, []int64{2, 3}) {
		t.Errorf("store %v, want [2 3]: 2 stays while the retained 3 uses it", stored)
	}
	h.flush()
	h.exec.mu.Lock()
	warnings := slices.Clone(h.exec.warnings)
	h.exec.mu.Unlock()
	warned := false
	for _, w := range warnings {
		warned = warned || strings.HasPrefix(w, fsm.WarnMissingRef+": ") && strings.Contains(w, "checkpoint 2") && strings.Contains(w, "checkpoint 1")
	}
	if !warned {
		t.Errorf("no %s warning about checkpoint 2: %q", fsm.WarnMissingRef, warnings)
	}
	// Once 3 is no longer retained, 2 goes with it.
	ckpt([]fsm.TaskID{0, 1, 2, 3}, -1)
	ckpt([]fsm.TaskID{0, 1, 2, 3}, -1)
	ckpt([]fsm.TaskID{0, 1, 2, 3}, -1)
	h.flush()
	if got := h.exec.discarded(); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("discarded after three global completions: %v, want [2 3]", got)
	}
	// Each incarnation's flight file replays alone (the second starts with
	// the resume record, its warning among the recorded effects) and the
	// files chain up to the store.
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	files := flightFiles(t, dir)
	for _, f := range files {
		replayFile(t, f)
	}
	if data, _ := os.ReadFile(files[1]); !strings.Contains(string(data), `"code":"`+fsm.WarnMissingRef+`"`) {
		t.Errorf("the resume record of %s does not carry the warning", files[1])
	}
	if chain, err := CheckFlightChain(filepath.Join(dir, "flight"), storeState(t, dir)); err != nil || chain.Files != 2 {
		t.Fatalf("chain %+v: %v", chain, err)
	}
}
