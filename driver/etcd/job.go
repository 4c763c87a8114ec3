package etcd

import (
	"net/http"

	"github.com/ckptcore/ckptcore/driver"
)

// DriverJob is the usual LedJob: a driver.Driver on the job's Store and its
// REST handler (driver.NewHandler).
type DriverJob struct {
	Driver  *driver.Driver
	Handler http.Handler
	// Stop, if set, is called before the driver closes (e.g. to stop the
	// executor's timers, so that nothing calls into a closed driver).
	Stop func()
}

// ServeHTTP serves the job's REST API.
func (j *DriverJob) ServeHTTP(w http.ResponseWriter, r *http.Request) { j.Handler.ServeHTTP(w, r) }

// Close stops the executor, then the driver. Effects not started are dropped,
// as a crash would drop them; the next leader recovers from etcd (R50).
func (j *DriverJob) Close() error {
	if j.Stop != nil {
		j.Stop()
	}
	return j.Driver.Close()
}
