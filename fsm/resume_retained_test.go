package fsm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Resume retains a stored checkpoint only if every checkpoint its regions use
// is still in the store (R40, I-RetentionSafety): a restart that raises
// retained must not make restorable a checkpoint whose fallback state was
// discarded. Such a one is skipped with a missing_ref warning, does not count
// toward retained, stays while a retained checkpoint uses it and is discarded
// otherwise; a checkpoint beyond the retained window is not looked at.
func TestResumeRetainsOnlyWhatIsWhole(t *testing.T) {
	regional := func(id int64, region int, ref int64) StoredCheckpoint {
		return StoredCheckpoint{ID: id, Mode: ModeRegional, Consecutive: 1, Owned: true, Refs: []RegionRef{{Region: region, Checkpoint: ref}}}
	}
	global := func(id int64) StoredCheckpoint { return StoredCheckpoint{ID: id, Mode: ModeGlobal, Owned: true} }
	for _, c := range []struct {
		name     string
		retained int
		known    []StoredCheckpoint
		want     string // retained ids; stored ids; discards; warned ids
	}{
		{"a referenced one uses a gone checkpoint", 3, []StoredCheckpoint{regional(2, 1, 1), regional(3, 0, 2)},
			"retained [3]; stored [2 3]; discarded []; warned [2]"},
		{"an unreferenced one", 3, []StoredCheckpoint{regional(2, 1, 1), global(4)},
			"retained [4]; stored [4]; discarded [2]; warned [2]"},
		{"the older whole one is retained instead", 2, []StoredCheckpoint{global(1), regional(3, 1, 2), global(4)},
			"retained [1 4]; stored [1 4]; discarded [3]; warned [3]"},
		{"outside the window: not looked at", 1, []StoredCheckpoint{regional(2, 1, 1), regional(3, 0, 2)},
			"retained [3]; stored [2 3]; discarded []; warned []"},
		{"none is whole", 2, []StoredCheckpoint{regional(2, 1, 1)},
			"retained []; stored []; discarded [2]; warned [2]"},
		{"whole ones are untouched", 3, []StoredCheckpoint{global(1), regional(2, 1, 1), regional(3, 0, 2)},
			"retained [1 2 3]; stored [1 2 3]; discarded []; warned []"},
	} {
		t.Run(c.name, func(t *testing.T) {
			topo := twoByTwo(t, DefaultConfig()).Topology()
			cfg := cfgWith(func(cfg *Config) {
				cfg.Retained, cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio = c.retained, true, 0.5
			})
			s, effs, err := Resume(topo, cfg, Durable{NextID: 10, Known: c.known}, 100)
			if err != nil {
				t.Fatal(err)
			}
			var stored, discarded, warned []int64
			for _, k := range s.Known() {
				stored = append(stored, k.ID)
			}
			for _, e := range effs {
				switch {
				case e.Type == EffDiscard:
					discarded = append(discarded, e.Checkpoint)
				case e.Type == EffWarn && e.Code == WarnMissingRef:
					warned = append(warned, e.Checkpoint)
					if !strings.Contains(e.Message, "which the store no longer holds") || !strings.Contains(e.Message, "I-RetentionSafety") {
						t.Errorf("warning %q", e.Message)
					}
				}
			}
			got := fmt.Sprintf("retained %v; stored %v; discarded %v; warned %v", orEmpty(s.Retained()), orEmpty(stored), orEmpty(discarded), orEmpty(warned))
			if got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
			// Whatever is retained has every reference in the store.
			for _, k := range s.Known() {
				for _, r := range k.Refs {
					if k.Retained && !slices.Contains(stored, r.Checkpoint) {
						t.Errorf("retained %d uses %d, which is not stored", k.ID, r.Checkpoint)
					}
				}
			}
		})
	}
}

func orEmpty(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
