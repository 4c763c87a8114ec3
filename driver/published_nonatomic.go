//go:build ckpt_nonatomic

package driver

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// This build is deliberately wrong, to prove that the linearizability check
// (robustness_test.go) can fail: GET .../checkpoints/config reads a cache that
// the event loop publishes after each applied patch in two steps — the
// interval, a pause, then the timeout — instead of reading the core on the
// loop. A GET in the pause sees the new interval with the old timeout, the
// torn read I-ConfigAtomic forbids. Never ship it: `go test -tags
// ckpt_nonatomic -run Linearizab ./driver/` expects the check to catch it.

// nonatomicConfig reports that this is the torn build.
const nonatomicConfig = true

// published holds each driver's cache (*Driver → *publishedConfig). It lives
// outside Driver so that the normal build's struct does not carry it; drivers
// are never removed, a leak this test-only build can afford.
var published sync.Map

func (d *Driver) cache() *publishedConfig {
	c, _ := published.LoadOrStore(d, &publishedConfig{})
	return c.(*publishedConfig)
}

// publishedConfig is the cache GET reads in this build.
type publishedConfig struct {
	once              sync.Once
	interval, timeout atomic.Int64
	active            atomic.Bool
	rest              atomic.Pointer[Status] // what else GET shows, as of the last publication
}

// publishConfig runs on the event loop whenever a patch applied.
func (d *Driver) publishConfig() {
	pub := d.cache()
	st := d.status()
	pub.rest.Store(&st)
	pub.interval.Store(st.Effective.IntervalMs)
	runtime.Gosched()
	time.Sleep(time.Millisecond) // the window a concurrent GET needs to see the pair torn
	pub.timeout.Store(st.Effective.TimeoutMs)
	pub.active.Store(st.Effective.OverridesActive)
}

// configStatus reads the cache without the event loop, publishing first if
// nothing was published by this incarnation yet.
func (d *Driver) configStatus() (Status, error) {
	pub := d.cache()
	var err error
	pub.once.Do(func() { err = d.call(d.publishConfig) })
	rest := pub.rest.Load()
	if err != nil || rest == nil {
		return Status{}, ErrClosed
	}
	st := *rest
	st.Effective.IntervalMs = pub.interval.Load()
	st.Effective.TimeoutMs = pub.timeout.Load()
	st.Effective.OverridesActive = pub.active.Load()
	return st, nil
}
