package sim

// action is what a queued item makes the simulator do.
type action uint8

const (
	doAnswer  action = iota + 1 // a subtask acks or declines a checkpoint
	doFail                      // a subtask fails (task_failed)
	doRestart                   // a region's subtasks run again (task_running each)
	doPersist                   // a metadata write ends (persisted or persist_failed)
	doRecover                   // the job runs again after fail_job (recover)
)

// item is one scheduled happening. It is a plain value of 32 bytes so that a
// queue of one answer per subtask of a 100,000-subtask job costs one slice and
// no per-item allocation.
type item struct {
	at    int64
	seq   uint64 // insertion order: the tie-break that makes runs reproducible
	ckpt  int32  // doAnswer, doPersist
	task  int32  // doAnswer, doFail: the subtask; doRestart: the region
	epoch uint32 // the region's incarnation when scheduled (doAnswer, doFail, doRestart)
	act   action
	flag  bool // doAnswer: decline; doPersist: the write fails
}

// queue is a binary min-heap of items ordered by (at, seq). It is typed rather
// than container/heap so that push and pop neither box nor allocate.
type queue struct {
	items []item
	seq   uint64
}

func (q *queue) len() int { return len(q.items) }

func less(a, b *item) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

func (q *queue) push(it item) {
	it.seq = q.seq
	q.seq++
	q.items = append(q.items, it)
	// Sift up with a hole: move parents down, write the item once.
	h := q.items
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !less(&it, &h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = it
}

// peek returns the earliest item's time.
func (q *queue) peek() (int64, bool) {
	if len(q.items) == 0 {
		return 0, false
	}
	return q.items[0].at, true
}

func (q *queue) pop() item {
	h := q.items
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	q.items = h
	if len(h) == 0 {
		return top
	}
	// Sift the last item down from the root with a hole.
	i, n := 0, len(h)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && less(&h[c+1], &h[c]) {
			c++
		}
		if !less(&h[c], &last) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return top
}
