package driver

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// openHarnessFormat is openHarness with the flight files in format.
func openHarnessFormat(t *testing.T, dir string, cfg fsm.Config, clock *fakeClock, format FlightFormat) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, clock: clock, exec: newRecExec()}
	d, err := Open(dir, twoRegions(), cfg, Options{Clock: h.clock, Executor: h.exec, OnRefused: h.exec.refuse, FlightFormat: format})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close() })
	return h
}

// TestBinaryFlightIsTheNDJSONFlight runs one scenario twice on a fake clock,
// once with each flight format: the binary file replays with every invariant
// and recorded effect, and `ckpt convert` of it (history.ToNDJSON) is the
// NDJSON recorder's file byte for byte.
func TestBinaryFlightIsTheNDJSONFlight(t *testing.T) {
	paths := map[FlightFormat]string{}
	for _, f := range []FlightFormat{FlightNDJSON, FlightBinary} {
		h := openHarnessFormat(t, t.TempDir(), flightScenarioConfig(), newFakeClock(), f)
		paths[f] = flightScenario(t, h)
		replayFile(t, paths[f])
	}
	if !strings.HasSuffix(paths[FlightBinary], ".bin") {
		t.Fatalf("binary flight file %s", paths[FlightBinary])
	}
	want, err := os.ReadFile(paths[FlightNDJSON])
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(paths[FlightBinary])
	if err != nil {
		t.Fatal(err)
	}
	if !history.IsBinary(bin) || len(bin) >= len(want) {
		t.Fatalf("binary file of %d bytes (magic %t) for an NDJSON file of %d", len(bin), history.IsBinary(bin), len(want))
	}
	var got bytes.Buffer
	if err := history.ToNDJSON(&got, bytes.NewReader(bin), paths[FlightBinary]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("the binary file converts to\n%s\nthe NDJSON recorder wrote\n%s", got.Bytes(), want)
	}
}

// Binary flight files chain across restarts, also when the format changes
// between incarnations (files are numbered across both), and a torn last
// record (a power loss during its write) is cut off at the next Open.
func TestBinaryFlightChainAndTornRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	clock := newFakeClock()
	runOnce := func(format FlightFormat) {
		h := openHarnessFormat(t, dir, cfg, clock, format)
		if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
			t.Fatal(err)
		}
		tr := h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 0))
		h.ackAll(tr.Checkpoint, 0, 1, 2, 3)
		h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, tr.Checkpoint))
		h.ackAll(tr.Checkpoint, 1) // late: a run record after the completion
		h.flush()
		if err := h.d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	runOnce(FlightBinary)
	first := filepath.Join(dir, "flight", "flight-1.bin")
	whole, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	// A torn record: a line record's kind and length, and part of its payload.
	f, err := os.OpenFile(first, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 40, '{', '"', 'a'})
	f.Close()
	if _, err := history.ReadFile(first); err == nil || !strings.Contains(err.Error(), "torn last record") {
		t.Fatalf("a torn record reads as %v", err)
	}
	runOnce(FlightNDJSON)
	runOnce(FlightBinary)
	got, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, whole) {
		t.Fatalf("flight-1.bin is %d bytes after the restart, %d before the torn record", len(got), len(whole))
	}
	for _, name := range []string{"flight-2.jsonl", "flight-3.bin"} {
		if _, err := os.Stat(filepath.Join(dir, "flight", name)); err != nil {
			t.Fatal(err)
		}
	}
	chain, err := CheckFlightChain(filepath.Join(dir, "flight"), storeState(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if chain.Files != 3 {
		t.Fatalf("%d files in the chain", chain.Files)
	}
}

// wholeRecords finds the end of the last whole record whatever the tail.
func TestWholeRecords(t *testing.T) {
	e := history.NewBinaryEncoder(nil)
	b := e.AppendLine(history.AppendBinaryMagic(nil), []byte("{}"))
	good := int64(len(b))
	b = e.AppendLine(b, []byte("// comment"))
	full := int64(len(b))
	for _, c := range []struct {
		tail []byte
		want int64
	}{
		{nil, full},
		{[]byte{1}, full},
		{[]byte{1, 0x80}, full},
		{[]byte{1, 5, 'x'}, full},
		{[]byte{0, 0, 0, 0}, full}, // zeros a power loss left
		{[]byte{1, 0}, full + 2},   // an empty line record is whole
	} {
		in := append(append([]byte(nil), b...), c.tail...)
		got, err := wholeRecords(newBufReader(in), int64(len(in)))
		if err != nil || got != c.want {
			t.Errorf("tail %v: %d, %v; want %d", c.tail, got, err, c.want)
		}
	}
	if got, _ := wholeRecords(newBufReader(b[:good+3]), good+3); got != good {
		t.Errorf("cut inside the second record: %d, want %d", got, good)
	}
}

func newBufReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// TestFlightWrittenWhenIdle: an event without effects is written once the
// loop has nothing more queued — not only at Close or when a later step has
// effects — in both formats.
func TestFlightWrittenWhenIdle(t *testing.T) {
	for _, f := range []FlightFormat{FlightNDJSON, FlightBinary} {
		t.Run(f.String(), func(t *testing.T) {
			h := openHarnessFormat(t, t.TempDir(), regionalConfig(1000), newFakeClock(), f)
			if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
				t.Fatal(err)
			}
			tr := h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 0))
			h.ackAll(tr.Checkpoint, 2) // no effect: the checkpoint waits for three more
			for deadline := time.Now().Add(waitTimeout); ; time.Sleep(time.Millisecond) {
				if hist, err := history.ReadFile(h.d.FlightFile()); err == nil {
					last := hist.Records[len(hist.Records)-1].Event
					if last.Type == fsm.EvAck && last.Task == 2 {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatal("the ack is not in the flight file while the driver idles")
				}
			}
		})
	}
}
