package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// The benchmarks are named for comparison across commits (benchstat): keep the
// names and sub-benchmark keys stable. BENCHMARKS.md has the commands and numbers.

var benchSizes = []int{100, 10_000, 100_000}

// benchCore returns a started core of the experiments' job with n subtasks
// (n/2 source→sink regions), regional mode on, no periodic checkpoints: the
// benchmark triggers them itself.
func benchCore(tb testing.TB, n int) *fsm.State {
	return benchCoreRatio(tb, n, DefaultParams(1).Config.Regional.MaxFailureRatio)
}

// benchCoreRatio is benchCore with another regional.max_failure_ratio.
func benchCoreRatio(tb testing.TB, n int, ratio float64) *fsm.State {
	tb.Helper()
	spec, err := ParallelShape(n / 2).Spec()
	if err != nil {
		tb.Fatal(err)
	}
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultParams(1).Config
	cfg.IntervalMs = 0
	cfg.TimeoutMs = 1 << 40 // no deadline while a benchmark runs
	cfg.Regional.MaxFailureRatio = ratio
	if ratio == 1 {
		cfg.Regional.MaxConsecutive = 1 << 30 // never forced global
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mustStep(tb, s, fsm.Event{At: 0, Type: fsm.EvStart})
	return s
}

func mustStep(tb testing.TB, s *fsm.State, ev fsm.Event) []fsm.Effect {
	effs, err := s.Step(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return effs
}

// trigger starts a checkpoint at time at and returns its id.
func trigger(tb testing.TB, s *fsm.State, at int64) int64 {
	id := s.NextID()
	for _, e := range mustStep(tb, s, fsm.Event{At: at, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}) {
		if e.Type == fsm.EffTrigger {
			return id
		}
	}
	tb.Fatalf("no trigger at %d", at)
	return 0
}

// finish acks subtasks [from, n) of checkpoint id and confirms its persist.
func finish(tb testing.TB, s *fsm.State, id int64, from, n int, at int64) {
	for t := from; t < n; t++ {
		mustStep(tb, s, fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: fsm.TaskID(t)})
	}
	mustStep(tb, s, fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id})
}

// BenchmarkStepAck measures one ack Step on a pending checkpoint of a job with
// n subtasks. Each iteration acks a different subtask; when only the last is
// left, the timer stops while the checkpoint completes and a new one starts.
func BenchmarkStepAck(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("subtasks="+strconv.Itoa(n), func(b *testing.B) {
			s := benchCore(b, n)
			at := int64(1)
			id := trigger(b, s, at)
			next := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if next == n-1 {
					b.StopTimer()
					finish(b, s, id, next, n, at)
					at++
					id = trigger(b, s, at)
					next = 0
					b.StartTimer()
				}
				if _, err := s.Step(fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: fsm.TaskID(next)}); err != nil {
					b.Fatal(err)
				}
				next++
			}
		})
	}
}

// BenchmarkCheckpointCycle measures a whole checkpoint of a job with n
// subtasks: trigger, every ack, persisted, completion (with retention
// discarding the previous checkpoint).
func BenchmarkCheckpointCycle(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("subtasks="+strconv.Itoa(n), func(b *testing.B) {
			s := benchCore(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				at := int64(i + 1)
				id := trigger(b, s, at)
				finish(b, s, id, 0, n, at)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subtask")
		})
	}
}

// benchHistory writes, once per benchmark, the history of a simulated run of
// 1000 regions with declines and failures, and returns its path and event count.
func benchHistory(b *testing.B) (string, int) {
	b.Helper()
	p := DefaultParams(1000)
	p.DurationMs = 100_000
	p.DeclineProb = 0.001
	p.FailProb = 0.0001
	p.Restore = &fsm.Restore{Checkpoint: 1}
	var buf bytes.Buffer
	st, err := Run(p, &buf)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, int(st.Events)
}

func decodeFile(b *testing.B, path string) *history.History {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h, err := history.Decode(f, path)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// reportEvents reports the rate of a benchmark that handles events per
// iteration, by wall time and by CPU time since cpu0 (see cpuTime).
func reportEvents(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/float64(events), "cpu-ns/event")
}

// BenchmarkReplay measures what `replay -check=false` does with a file: decode
// it from disk, then replay it through the core.
func BenchmarkReplay(b *testing.B) {
	path, events := benchHistory(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		h := decodeFile(b, path)
		if _, err := history.Replay(h, history.Options{Check: false}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, events, cpu0)
}

// BenchmarkDecodeOnly measures decoding the same file.
func BenchmarkDecodeOnly(b *testing.B) {
	path, events := benchHistory(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		decodeFile(b, path)
	}
	reportEvents(b, events, cpu0)
}

// BenchmarkReplayOnly measures history.Replay of the decoded file: the core's
// steps plus the replay engine's own work (summary, descriptions).
func BenchmarkReplayOnly(b *testing.B) {
	path, events := benchHistory(b)
	h := decodeFile(b, path)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := history.Replay(h, history.Options{Check: false}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, events, cpu0)
}

// BenchmarkCoreOnly measures the core's share of a replay: Step over the decoded
// events and nothing else.
func BenchmarkCoreOnly(b *testing.B) {
	path, events := benchHistory(b)
	h := decodeFile(b, path)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		s, err := fsm.New(h.Topology, h.Header.Config)
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range h.Records {
			if _, err := s.Step(rec.Event); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEvents(b, events, cpu0)
}

// BenchmarkSimulate measures the simulator itself (no history): the run of the
// replay benchmarks at 1,000 regions and a larger one at 10,000.
func BenchmarkSimulate(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		b.Run("regions="+strconv.Itoa(n), func(b *testing.B) {
			p := DefaultParams(n)
			p.DurationMs = 100_000
			p.DeclineProb = 0.001
			p.FailProb = 0.0001
			p.Restore = &fsm.Restore{Checkpoint: 1}
			var events int64
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				st, err := Run(p, nil)
				if err != nil {
					b.Fatal(err)
				}
				events = st.Events
			}
			reportEvents(b, int(events), cpu0)
		})
	}
}

// BenchmarkStepDecline measures one decline Step of a regional-path checkpoint
// whose job has n subtasks (n/2 regions): the decline fails a healthy region
// (R18) and the gate re-checks the checkpoint (R22). Each iteration declines for
// a region not failed yet; when only one healthy region is left, the rest of
// the checkpoint runs outside the timer and a new one starts. The job has
// max_failure_ratio 1 and no max_consecutive bound, so that the gate lets all but
// one region fail, every checkpoint takes the regional path, and the untimed
// restarts (each a stop-the-world read of the memory statistics in the testing
// package) stay rare even at 100 subtasks.
func BenchmarkStepDecline(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("subtasks="+strconv.Itoa(n), func(b *testing.B) {
			s := benchCoreRatio(b, n, 1)
			at := int64(1)
			id := trigger(b, s, at)
			finish(b, s, id, 0, n, at) // a completed checkpoint to fall back to (R22d)
			at++
			id = trigger(b, s, at)
			budget := n/2 - 1 // regions that may fail, leaving one healthy
			next := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if next == budget {
					b.StopTimer()
					// The last healthy region {n/2-1, n-1} acks: a regional completion.
					mustStep(b, s, fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: fsm.TaskID(n/2 - 1)})
					finish(b, s, id, n-1, n, at)
					at++
					id = trigger(b, s, at)
					next = 0
					b.StartTimer()
				}
				// Subtask next is the source of region next (ParallelShape numbers
				// sources first, so region r is {r, n/2+r}).
				if _, err := s.Step(fsm.Event{At: at, Type: fsm.EvDecline, Checkpoint: id, Task: fsm.TaskID(next)}); err != nil {
					b.Fatal(err)
				}
				next++
			}
		})
	}
}
