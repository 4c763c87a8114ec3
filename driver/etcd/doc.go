// Package etcd is the high-availability backend of the checkpoint coordinator:
// a driver.Store kept in etcd, leader election per job, and a Manager that runs
// the jobs a process leads and stands by for the others — what Flink's
// JobManager does with its HA services on ZooKeeper or Kubernetes.
//
// Keys, per job J (all under Prefix(J) = "/ckpt/J/"):
//
//	/ckpt/J/leader/<lease>         election keys (concurrency.Election); the first created leads
//	/ckpt/J/next-id                the checkpoint id counter (R14)
//	/ckpt/J/checkpoints/<id>       a completed checkpoint's metadata (its pointer to checkpoint storage)
//	/ckpt/J/savepoints/<id>        a completed savepoint's metadata
//	/ckpt/J/overrides              the FLIP-571 overrides (Flink's $internal.job-checkpoint-overrides, R63)
//	/ckpt/J/restored               the snapshot the job started from and its mode (R41)
//
// Ids in keys are zero-padded to 20 digits, so that key order is id order.
// Every value is one JSON object (valueEnvelope) naming the node that wrote it
// and the create revision of that node's election key ("writer",
// "leader_rev"), so that etcd's history shows which leader wrote what.
//
// Fencing: every write is a transaction guarded by the writer's election key —
// If(CreateRevision(leaderKey) = leaderRev) — so a deposed leader (its lease
// expired or revoked, its key deleted, another node's key first) can never
// write. A failed guard is ErrFenced; the Store then reports itself fenced
// (Store.Fenced) and the Manager closes the job's driver and campaigns again.
// Load is guarded the same way and reads every key in one transaction: one
// consistent revision.
package etcd
