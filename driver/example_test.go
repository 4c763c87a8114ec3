package driver_test

import (
	"log"
	"net/http"
	"time"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// tasks is how an embedding program reaches its subtasks; here it only logs.
type tasks struct {
	driver.NopExecutor // the effects not implemented below are ignored
	d                  *driver.Driver
}

func (t *tasks) TriggerCheckpoint(id int64, kind fsm.Kind, _ bool, set fsm.TaskSet, deadline time.Time) {
	// Send the barrier to every subtask in set; each answers later with
	// t.d.Ack(id, task) or t.d.Decline(id, task, reason), from any goroutine.
	log.Printf("trigger %s %d on %d subtasks, due by %s", kind, id, set.Len(), deadline)
}

// Attach runs before any effect: from now on the subtasks can answer.
func (t *tasks) Attach(d *driver.Driver) { t.d = d }

func (t *tasks) Discard(id int64) { log.Printf("delete the state of checkpoint %d", id) }

// A program embeds the coordinator: open the store (recovering from it if it
// has state), carry out effects in an Executor, serve the REST API.
func Example() {
	job := fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 5000
	exec := &tasks{}
	d, err := driver.Open("/var/lib/ckpt/job-1", job, cfg, driver.Options{Executor: exec})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	api := driver.NewHandler(d, "job-1", driver.HandlerOptions{Token: "secret"})
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", api))
}
