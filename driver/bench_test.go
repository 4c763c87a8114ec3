package driver

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// memStore is a Store in memory: the benchmarks measure the driver, not the
// disk (a FileStore write is an fsync, milliseconds on most disks).
type memStore struct {
	mu  sync.Mutex
	dur fsm.Durable
}

func (s *memStore) Load() (fsm.Durable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dur, nil
}

func (s *memStore) Save(m Metadata) error {
	if m.Kind != fsm.KindCheckpoint {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur.Known = slices.DeleteFunc(s.dur.Known, func(k fsm.StoredCheckpoint) bool { return k.ID == m.ID })
	s.dur.Known = append(s.dur.Known, fsm.StoredCheckpoint{ID: m.ID, Mode: m.Mode, Refs: m.Refs,
		Consecutive: m.Consecutive, Owned: m.Owned, Restored: m.Restored})
	slices.SortFunc(s.dur.Known, func(a, b fsm.StoredCheckpoint) int { return int(a.ID - b.ID) })
	return nil
}

func (s *memStore) Delete(kind fsm.Kind, id int64) error {
	if kind != fsm.KindCheckpoint {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur.Known = slices.DeleteFunc(s.dur.Known, func(k fsm.StoredCheckpoint) bool { return k.ID == id })
	return nil
}

func (s *memStore) SaveOverrides(intervalMs, timeoutMs int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur.Overrides = &fsm.EffectiveConfig{IntervalMs: intervalMs, TimeoutMs: timeoutMs}
	return nil
}

func (s *memStore) SaveNextID(next int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur.NextID = next
	return nil
}

func (s *memStore) SaveRestored(id int64, noClaim bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur.RestoredID, s.dur.NoClaim = id, noClaim
	return nil
}

func (s *memStore) Close() error { return nil }

// benchExec hands triggers and completion notices to the benchmark.
type benchExec struct {
	NopExecutor
	triggers chan int64
	notified chan time.Time
}

func (x *benchExec) TriggerCheckpoint(id int64, _ fsm.Kind, _ bool, _ fsm.TaskSet, _ time.Time) {
	x.triggers <- id
}

func (x *benchExec) NotifyComplete(int64, fsm.TaskSet, []fsm.RefGroup) { x.notified <- time.Now() }

// benchJob is a job of n subtasks: src (n/2) -> sink (n/2), all-to-all (a
// keyBy), one region; pointwise makes it n/2 regions, each of which the
// persist and completed effects (and their flight-file lines) name.
func benchJob(n int, pattern fsm.Pattern) fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: n / 2}, {ID: "sink", Parallelism: n - n/2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink", Pattern: pattern}},
	}
}

func manualConfig() fsm.Config {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 0
	return cfg
}

// BenchmarkAck is the issue-19 shape: a job of n subtasks, a manual trigger,
// g goroutines calling Driver.Ack for every subtask until notify_complete; one
// iteration is one checkpoint. It reports acks/s, allocs/ack, the process's
// CPU time per ack (both cores: callers, loop, effect worker, GC) and the time
// from the last Ack's return to notify_complete (p50, p99 over iterations).
//
// recorder= is the flight recorder: off, ndjson or binary (Options.FlightFormat).
func BenchmarkAck(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		for _, rec := range []string{"binary", "ndjson", "off"} {
			for _, g := range []int{1, 8, 64} {
				name := fmt.Sprintf("subtasks=%d/recorder=%s/callers=%d", n, rec, g)
				b.Run(name, func(b *testing.B) { benchAck(b, benchJob(n, fsm.AllToAll), g, rec, false) })
			}
		}
	}
}

// BenchmarkAckRegions is BenchmarkAck on a job of n/2 regions (pointwise
// edges): the persist and completed lines of the flight file name every region.
func BenchmarkAckRegions(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		for _, rec := range []string{"binary", "ndjson"} {
			b.Run(fmt.Sprintf("subtasks=%d/regions=%d/recorder=%s/callers=8", n, n/2, rec), func(b *testing.B) {
				benchAck(b, benchJob(n, fsm.Pointwise), 8, rec, false)
			})
		}
	}
}

// BenchmarkAckBatch is BenchmarkAck with each caller handing its acks over in
// batches of 1024 (AckBatch).
func BenchmarkAckBatch(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, rec := range []string{"binary", "ndjson"} {
			for _, g := range []int{1, 8} {
				b.Run(fmt.Sprintf("subtasks=%d/recorder=%s/callers=%d", n, rec, g), func(b *testing.B) {
					benchAck(b, benchJob(n, fsm.AllToAll), g, rec, true)
				})
			}
		}
	}
}

func benchAck(b *testing.B, job fsm.JobSpec, g int, rec string, batch bool) {
	n := job.Vertices[0].Parallelism + job.Vertices[1].Parallelism
	x := &benchExec{triggers: make(chan int64, 1), notified: make(chan time.Time, 1)}
	opt := Options{Executor: x, NoFlightRecorder: rec == "off"}
	if rec != "off" {
		opt.FlightDir = b.TempDir()
		opt.FlightFormat = FlightNDJSON
		if rec == "binary" {
			opt.FlightFormat = FlightBinary
		}
	}
	d, err := New(&memStore{}, job, manualConfig(), opt)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	lat := make([]time.Duration, 0, b.N)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if err := d.Trigger(fsm.KindCheckpoint); err != nil {
			b.Fatal(err)
		}
		id := <-x.triggers
		var wg sync.WaitGroup
		last := make([]time.Time, g)
		for w := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lo, hi := n*w/g, n*(w+1)/g
				if batch {
					acks := make([]Ack, 0, 1024)
					for t := lo; t < hi; t++ {
						acks = append(acks, Ack{Checkpoint: id, Task: fsm.TaskID(t)})
						if len(acks) == cap(acks) || t == hi-1 {
							if err := d.AckBatch(acks); err != nil {
								b.Error(err)
								return
							}
							acks = acks[:0]
						}
					}
				} else {
					for t := lo; t < hi; t++ {
						if err := d.Ack(id, fsm.TaskID(t)); err != nil {
							b.Error(err)
							return
						}
					}
				}
				last[w] = time.Now()
			}()
		}
		wg.Wait()
		at := <-x.notified
		lat = append(lat, at.Sub(slices.MaxFunc(last, func(a, b time.Time) int { return a.Compare(b) })))
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	acks := float64(n) * float64(b.N)
	b.ReportMetric(float64(cpu.Nanoseconds())/acks, "cpu-ns/ack")
	b.ReportMetric(acks/b.Elapsed().Seconds(), "acks/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/acks, "allocs/ack")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/acks, "B/ack")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-notify-µs")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds()), "p99-notify-µs")
}
