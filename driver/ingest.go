package driver

import (
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
)

// ingestLimit bounds the ingestion queue (items, about 56 bytes each): a
// producer that finds it full waits until the event loop takes the queued
// items (back-pressure), so a flood of acks costs bounded memory — at most
// two buffers of this size, the one producers fill and the one the loop
// works through. It also bounds how far the loop can lag behind a caller:
// the last ack of a checkpoint waits behind at most this many events (a
// fifth of a millisecond at 5 million a second), which keeps notify_complete
// within a millisecond of it; 8192 made that 2–5 ms under load for no
// measurable gain in throughput (BENCHMARKS.md, driver section).
const ingestLimit = 1024

// item is one entry of the ingestion queue: an event of a subtask (fn == nil)
// or a request to run fn on the event loop (the synchronous path: Status,
// Trigger, PatchConfig, Sync and the effect worker's feedback).
//
// Events are held in this compact form, not as fsm.Event (128 bytes), and
// without a closure or channel: submitting one allocates nothing.
type item struct {
	fn     func()
	typ    fsm.EventType
	ack    Ack // checkpoint, subtask and sizes (ack, decline: checkpoint and subtask; task_*: subtask)
	reason fsm.Reason
}

// event is the item as the core's event; its time is set when it is applied.
func (it *item) event() fsm.Event {
	ev := it.ack.event()
	ev.Type = it.typ
	ev.Reason = it.reason
	return ev
}

// ingest is the ingestion queue: many producers append under a mutex, the
// event loop swaps the whole slice out (one lock per batch on its side) and
// applies the items in order. A producer that makes the queue non-empty
// signals the loop through a 1-buffered channel, so there is one wake-up per
// batch, not per item: until the loop takes the batch, the queue stays
// non-empty and later producers do not signal. Items of one producer are
// applied in the order it pushed them (one FIFO for events and requests
// alike: an Ack followed by a Status call sees the ack applied).
type ingest struct {
	mu      sync.Mutex
	items   []item
	waiting int       // producers blocked on a full queue
	space   sync.Cond // broadcast when the loop takes the items, or on close
	closed  bool
	wake    chan struct{}
}

func newIngest() *ingest {
	q := &ingest{wake: make(chan struct{}, 1)}
	q.space.L = &q.mu
	return q
}

// push appends one item, waiting while the queue is full; ErrClosed after
// close (the item is dropped).
func (q *ingest) push(it item) error {
	q.mu.Lock()
	for len(q.items) >= ingestLimit && !q.closed {
		q.waiting++
		q.space.Wait()
		q.waiting--
	}
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.items = append(q.items, it)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
	return nil
}

// pushAcks appends a batch of acks in order, as much as fits at a time
// (waiting for room in between): items of other producers may come between
// two parts of a long batch, never out of order within it.
func (q *ingest) pushAcks(acks []Ack) error {
	for len(acks) > 0 {
		q.mu.Lock()
		for len(q.items) >= ingestLimit && !q.closed {
			q.waiting++
			q.space.Wait()
			q.waiting--
		}
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		first := len(q.items) == 0
		n := min(len(acks), ingestLimit-len(q.items))
		for i := range acks[:n] {
			q.items = append(q.items, item{typ: fsm.EvAck, ack: acks[i]})
		}
		q.mu.Unlock()
		if first {
			q.signal()
		}
		acks = acks[n:]
	}
	return nil
}

func (q *ingest) signal() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take returns every queued item and leaves spare (emptied) as the new queue:
// the loop and the producers swap two buffers, so a steady stream allocates
// nothing.
func (q *ingest) take(spare []item) []item {
	q.mu.Lock()
	items := q.items
	q.items = spare[:0]
	if q.waiting > 0 {
		q.space.Broadcast()
	}
	q.mu.Unlock()
	return items
}

// close makes every later push fail with ErrClosed and wakes the producers
// waiting for room; what is queued is dropped with the loop (Close).
func (q *ingest) close() {
	q.mu.Lock()
	q.closed = true
	q.space.Broadcast()
	q.mu.Unlock()
}
