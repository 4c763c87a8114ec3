//go:build !ckpt_nonatomic

package driver

// nonatomicConfig reports whether this is the ckpt_nonatomic build, whose GET
// of the configuration is deliberately torn (published_nonatomic.go). In the
// normal build GET reads the configuration on the event loop, in the same step
// as everything else it shows, so a torn read cannot happen (I-ConfigAtomic).
const nonatomicConfig = false

// publishConfig does nothing: GET reads the core itself.
func (d *Driver) publishConfig() {}

// configStatus is what GET .../checkpoints/config shows: a Status taken on the
// event loop.
func (d *Driver) configStatus() (Status, error) { return d.Status() }
