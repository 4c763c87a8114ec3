package driver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// TestFlightRotation runs seven checkpoints (a regional one among them, a
// patch confirmed in between) with small rotation limits: by completed
// checkpoints the files split at completions; by bytes they split after a few
// events, with checkpoints pending and acks half in. Every file after the first
// starts with a v1.3 header and a snapshot record, every file replays alone
// with every invariant holding and no recorded effect diverging, and the chain
// (each file's end equal to the next one's snapshot) reproduces the store.
//
// Both formats: a binary file rotates the same way (its header and snapshot
// are line records), and its conversion starts as an NDJSON file does.
func TestFlightRotation(t *testing.T) {
	for _, c := range []struct {
		name       string
		opt        Options
		minRotated int
	}{
		{"checkpoints", Options{FlightMaxCheckpoints: 2, FlightMaxBytes: -1}, 3},
		{"bytes", Options{FlightMaxBytes: 400, FlightMaxCheckpoints: -1}, 8},
		{"off", Options{FlightMaxBytes: -1, FlightMaxCheckpoints: -1}, 0},
		{"binary/checkpoints", Options{FlightMaxCheckpoints: 2, FlightMaxBytes: -1, FlightFormat: FlightBinary}, 3},
		{"binary/bytes", Options{FlightMaxBytes: 400, FlightMaxCheckpoints: -1, FlightFormat: FlightBinary}, 5},
		{"binary/off", Options{FlightMaxBytes: -1, FlightMaxCheckpoints: -1, FlightFormat: FlightBinary}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := regionalConfig(1000)
			cfg.TolerableFailures = 10
			h := &harness{t: t, dir: dir, clock: newFakeClock(), exec: newRecExec()}
			opt := c.opt
			opt.Clock, opt.Executor = h.clock, h.exec
			d, err := Open(dir, twoRegions(), cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			h.d = d
			// FlightFile is safe while the loop rotates (go test -race).
			stop := make(chan struct{})
			seen := make(chan string, 1)
			go func() {
				last := ""
				for {
					select {
					case <-stop:
						seen <- last
						return
					default:
						last = d.FlightFile()
					}
				}
			}()
			for id := int64(1); id <= 7; id++ {
				h.clock.Advance(time.Second)
				h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, id))
				h.ackAll(id, 0, 2)
				if id == 3 {
					if err := d.Decline(id, 1, ""); err != nil { // region r1 fails: a regional completion
						t.Fatal(err)
					}
					h.ackAll(id, 3)
				} else {
					h.ackAll(id, 1, 3)
				}
				h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, id))
				if id == 4 {
					if _, err := d.PatchConfig(context.Background(), ConfigPatch{TimeoutMs: ptrTo[int64](5000)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The reader's last sample may predate the last rotations (it
			// stops at its next look at stop, however long ago it last ran):
			// the file at the end is read once every event is recorded.
			close(stop)
			<-seen
			h.flush()
			last := d.FlightFile()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			flight := filepath.Join(dir, "flight")
			chain, err := CheckFlightChain(flight, storeState(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if chain.Rotated < c.minRotated || chain.Files != chain.Rotated+1 || c.minRotated == 0 && chain.Rotated != 0 {
				t.Fatalf("%d files, %d rotations, want at least %d rotations in one incarnation", chain.Files, chain.Rotated, c.minRotated)
			}
			paths, err := flightPaths(flight)
			if err != nil {
				t.Fatal(err)
			}
			if last != paths[len(paths)-1] {
				t.Errorf("FlightFile %s at the end, the last file is %s", last, paths[len(paths)-1])
			}
			for i, path := range paths {
				replayFile(t, path)
				if !strings.HasSuffix(path, c.opt.FlightFormat.ext()) {
					t.Errorf("%s: not a %s file", path, c.opt.FlightFormat)
				}
				b := readFlightNDJSON(t, path)
				lines := strings.SplitN(string(b), "\n", 3)
				rotated := strings.Contains(lines[0], history.FormatSnapshot) && strings.HasPrefix(lines[1], `{"at":`) &&
					strings.Contains(lines[1], `"type":"snapshot"`)
				if rotated != (i > 0) {
					t.Errorf("%s: header %s, first record %.60s…", path, lines[0], lines[1])
				}
			}
		})
	}
}

// readFlightNDJSON reads a flight file as NDJSON: a binary one converted
// (history.ToNDJSON), checked to be binary by its magic.
func readFlightNDJSON(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if history.IsBinary(b) != strings.HasSuffix(path, ".bin") {
		t.Fatalf("%s: binary %t", path, history.IsBinary(b))
	}
	if !history.IsBinary(b) {
		return b
	}
	var out bytes.Buffer
	if err := history.ToNDJSON(&out, bytes.NewReader(b), path); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
