package driver

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// BenchmarkRecover opens a FileStore that holds 10 retained checkpoints of a
// job of 100,000 subtasks — one region (all-to-all) or 50,000 (pointwise,
// every checkpoint's metadata naming its regions' refs) — as a coordinator
// failover does (R50): load, fsm.Resume, the flight file's resume record.
// One iteration is one Open and Close; it reports the time per recovery and
// the heap the running driver holds after it (live-B).
func BenchmarkRecover(b *testing.B) {
	for _, pattern := range []fsm.Pattern{fsm.AllToAll, fsm.Pointwise} {
		const n = 100_000
		job := benchJob(n, pattern)
		topo, _ := fsm.NewTopology(job)
		b.Run(fmt.Sprintf("subtasks=%d/regions=%d/retained=10", n, topo.NumRegions()), func(b *testing.B) {
			dir := b.TempDir()
			cfg := manualConfig()
			cfg.Retained = 10
			fill(b, dir, job, cfg, 12, n)
			var live uint64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				d, err := Open(dir, job, cfg, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				if st, _ := d.Status(); len(st.Retained) != 10 {
					b.Fatalf("recovered %v, want 10 retained checkpoints", st.Retained)
				}
				live = max(live, m1.HeapAlloc-min(m1.HeapAlloc, m0.HeapAlloc))
				d.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(live), "live-B")
		})
	}
}

// fill runs a driver on dir until it completed k checkpoints (acked in
// batches), so that the store retains cfg.Retained of them.
func fill(b *testing.B, dir string, job fsm.JobSpec, cfg fsm.Config, k, n int) {
	x := &benchExec{triggers: make(chan int64, 1), notified: make(chan time.Time, 1)}
	d, err := Open(dir, job, cfg, Options{Executor: x, NoFlightRecorder: true})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	acks := make([]Ack, n)
	for range k {
		if err := d.Trigger(fsm.KindCheckpoint); err != nil {
			b.Fatal(err)
		}
		id := <-x.triggers
		for t := range acks {
			acks[t] = Ack{Checkpoint: id, Task: fsm.TaskID(t)}
		}
		if err := d.AckBatch(acks); err != nil {
			b.Fatal(err)
		}
		<-x.notified
	}
}

// BenchmarkIdleJobs starts 10,000 drivers of a small job (8 subtasks, a
// periodic checkpoint every 10 minutes, in-memory stores) in one process, as
// a coordinator process carrying many jobs does, and reports the memory one
// idle job holds (heap and goroutine stacks, per job) with the flight
// recorder off and on.
func BenchmarkIdleJobs(b *testing.B) {
	for _, rec := range []bool{false, true} {
		b.Run(fmt.Sprintf("jobs=10000/recorder=%v", rec), func(b *testing.B) {
			const jobs = 10_000
			cfg := fsm.DefaultConfig()
			cfg.IntervalMs = 600_000
			job := benchJob(8, fsm.Pointwise)
			for range b.N {
				dir := b.TempDir()
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				ds := make([]*Driver, jobs)
				for i := range ds {
					opt := Options{NoFlightRecorder: !rec}
					if rec {
						opt.FlightDir = fmt.Sprintf("%s/%d", dir, i)
					}
					d, err := New(&memStore{}, job, cfg, opt)
					if err != nil {
						b.Fatal(err)
					}
					ds[i] = d
				}
				for _, d := range ds {
					d.Sync() // every loop has run its first turn
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				heap := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				stacks := float64(m1.StackInuse) - float64(m0.StackInuse)
				b.ReportMetric(heap/jobs, "heap-B/job")
				b.ReportMetric(stacks/jobs, "stack-B/job")
				b.ReportMetric(float64(runtime.NumGoroutine())/jobs, "goroutines/job")
				for _, d := range ds {
					d.Close()
				}
			}
		})
	}
}
