package driver

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// TestIngestIsBounded: the queue takes ingestLimit items, then a producer
// waits until the loop takes them (back-pressure, bounded memory); close
// releases a waiting producer with ErrClosed.
func TestIngestIsBounded(t *testing.T) {
	q := newIngest()
	for i := range ingestLimit {
		if err := q.push(item{typ: fsm.EvAck, ack: Ack{Task: fsm.TaskID(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(item{typ: fsm.EvAck}) }()
	select {
	case err := <-pushed:
		t.Fatalf("a push into a full queue returned (%v) instead of waiting", err)
	case <-time.After(20 * time.Millisecond):
	}
	if got := q.take(nil); len(got) != ingestLimit {
		t.Fatalf("took %d items, want %d", len(got), ingestLimit)
	}
	select {
	case err := <-pushed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the waiting producer did not get room")
	}
	// A batch longer than the room left goes in as parts, in order.
	acks := make([]Ack, ingestLimit+10)
	for i := range acks {
		acks[i].Task = fsm.TaskID(i)
	}
	go func() { pushed <- q.pushAcks(acks) }()
	var got []item
	for len(got) < 1+len(acks) {
		<-q.wake
		got = append(got, q.take(nil)...)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	for i, it := range got[1:] {
		if it.ack.Task != fsm.TaskID(i) {
			t.Fatalf("item %d of the batch is subtask %d", i, it.ack.Task)
		}
	}
	for range ingestLimit {
		q.push(item{})
	}
	go func() { pushed <- q.push(item{}) }()
	time.Sleep(10 * time.Millisecond)
	q.close()
	if err := <-pushed; !errors.Is(err, ErrClosed) {
		t.Fatalf("a producer waiting at close got %v, want ErrClosed", err)
	}
}

// TestEventsOfOneCallerStayInOrder: 8 goroutines submit acks with increasing
// sizes (and batches, and task failures) concurrently; in the flight file each
// one's events appear in the order it submitted them, and none is refused.
func TestEventsOfOneCallerStayInOrder(t *testing.T) {
	const callers, perCaller = 8, 3000
	x := &benchExec{triggers: make(chan int64, 1), notified: make(chan time.Time, 1)}
	dir := t.TempDir()
	refused := 0
	var mu sync.Mutex
	d, err := New(&memStore{}, benchJob(2*callers, fsm.AllToAll), manualConfig(), Options{Executor: x, FlightDir: dir,
		OnRefused: func(fsm.Event, error) { mu.Lock(); refused++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	id := <-x.triggers
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task := fsm.TaskID(callers + g) // sink/g: acks after the first are late, still recorded
			for i := 1; i <= perCaller; i++ {
				var err error
				if i%100 == 0 {
					err = d.AckBatch([]Ack{{Checkpoint: id, Task: task, StateSize: int64(i)}})
				} else {
					err = d.AckWithSizes(id, task, int64(i), 0)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	st, _ := d.Status()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st.RefusedEvents != 0 || refused != 0 {
		t.Fatalf("%d events refused (%d reported)", st.RefusedEvents, refused)
	}
	h, err := history.ReadFile(d.FlightFile())
	if err != nil {
		t.Fatal(err)
	}
	last := map[fsm.TaskID]int64{}
	n := 0
	for _, rec := range h.Records {
		if ev := rec.Event; ev.Type == fsm.EvAck && ev.Task >= callers {
			if ev.StateSize != last[ev.Task]+1 {
				t.Fatalf("subtask %d: ack with size %d after %d", ev.Task, ev.StateSize, last[ev.Task])
			}
			last[ev.Task] = ev.StateSize
			n++
		}
	}
	if n != callers*perCaller {
		t.Fatalf("%d acks recorded, want %d", n, callers*perCaller)
	}
}

// TestAckAllocatesNothing: with the flight recorder on, acks cost no
// allocation, from the caller's Ack through the loop, the core, the
// recorder and the REST statistics (issue 19). Counted over 50,000 acks of
// one checkpoint, so a fixed cost per batch (a Sync, the GC) stays far below
// one per ack. Both flight formats.
func TestAckAllocatesNothing(t *testing.T) {
	for _, f := range []FlightFormat{FlightNDJSON, FlightBinary} {
		t.Run(f.String(), func(t *testing.T) { testAckAllocatesNothing(t, f) })
	}
}

func testAckAllocatesNothing(t *testing.T, format FlightFormat) {
	const n = 50_000
	x := &benchExec{triggers: make(chan int64, 1), notified: make(chan time.Time, 1)}
	dir := t.TempDir()
	d, err := New(&memStore{}, benchJob(2*n, fsm.AllToAll), manualConfig(), Options{Executor: x, FlightDir: dir, FlightFormat: format})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	id := <-x.triggers
	for task := range fsm.TaskID(1000) { // warm up: buffers reach their size
		d.Ack(id, task)
	}
	d.Sync()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for task := fsm.TaskID(1000); task < 1000+n; task++ {
		d.Ack(id, task)
	}
	d.Sync()
	runtime.ReadMemStats(&m1)
	if allocs := m1.Mallocs - m0.Mallocs; allocs > n/100 {
		t.Fatalf("%d allocations for %d acks, want (almost) none", allocs, n)
	}
	// The acks are in the file, in the format asked for.
	if m, _ := filepath.Glob(filepath.Join(dir, "flight-1"+format.ext())); len(m) != 1 {
		t.Fatalf("no flight-1%s in %s", format.ext(), dir)
	}
}

// TestFlightLineBeforeEffects: a step's line is in the flight file before its
// effects are carried out — the store write of persist included — so that a
// crash after an effect never leaves a file without the step (see recorder).
// Both formats: in a binary file the step is a line record.
func TestFlightLineBeforeEffects(t *testing.T) {
	for _, f := range []FlightFormat{FlightNDJSON, FlightBinary} {
		t.Run(f.String(), func(t *testing.T) { testFlightLineBeforeEffects(t, f) })
	}
}

func testFlightLineBeforeEffects(t *testing.T, format FlightFormat) {
	x := &lineCheckExec{t: t, want: map[fsm.EffectType]string{
		fsm.EffTrigger:        `{"type":"trigger","checkpoint":1,`,
		fsm.EffPersist:        `{"type":"persist","checkpoint":1,`,
		fsm.EffNotifyComplete: `{"type":"notify_complete","checkpoint":1,`,
	}}
	clock := newFakeClock()
	d, err := Open(t.TempDir(), twoRegions(), testConfig(1000), Options{Clock: clock, Executor: x, FlightFormat: format})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	x.d = d
	clock.Advance(time.Second)
	x.waitFor(t, fsm.EffTrigger)
	// The last ack's step has the persist effect; the repeated acks after it
	// in the same batch keep the loop busy while the worker writes the store.
	batch := []Ack{{Checkpoint: 1, Task: 0}, {Checkpoint: 1, Task: 1}, {Checkpoint: 1, Task: 2}, {Checkpoint: 1, Task: 3}}
	for range 8000 {
		batch = append(batch, Ack{Checkpoint: 1, Task: 0})
	}
	if err := d.AckBatch(batch); err != nil {
		t.Fatal(err)
	}
	x.waitFor(t, fsm.EffNotifyComplete)
}

// lineCheckExec reads the flight file when an effect it watches comes.
type lineCheckExec struct {
	NopExecutor
	t    *testing.T
	d    *Driver
	want map[fsm.EffectType]string
	mu   sync.Mutex
	got  map[fsm.EffectType]bool
}

func (x *lineCheckExec) ObserveEffect(e fsm.Effect) {
	want, ok := x.want[e.Type]
	if !ok {
		return
	}
	b, err := os.ReadFile(x.d.FlightFile())
	if err != nil {
		x.t.Error(err)
		return
	}
	if !bytes.Contains(b, []byte(want)) { // a line, or a binary file's line record
		x.t.Errorf("%s carried out before its line is in the flight file", e.Type)
	}
	x.mu.Lock()
	if x.got == nil {
		x.got = map[fsm.EffectType]bool{}
	}
	x.got[e.Type] = true
	x.mu.Unlock()
}

func (x *lineCheckExec) waitFor(t *testing.T, typ fsm.EffectType) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(time.Millisecond) {
		x.mu.Lock()
		seen := x.got[typ]
		x.mu.Unlock()
		if seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s effect", typ)
		}
	}
}
