// Package checkpointstorage is the driver's checkpoint storage: one
// self-contained metadata file per completed checkpoint or savepoint, laid out
// as Flink lays out its checkpoint storage, and the physical discard of a
// checkpoint's directory (FLIP-600 points 3 and 4, R21, R40, R41;
// docs/spec/METADATA.md).
//
// Layout under a root directory (Flink's state.checkpoints.dir):
//
//	<root>/<job>/chk-<id>/_metadata             a completed checkpoint
//	<root>/<job>/chk-<id>/...                   state files a runtime wrote for it
//	<root>/<job>/savepoints/savepoint-<id>/_metadata
//
// A _metadata file holds every subtask's state handle and the checkpoint its
// state belongs to (Flink's refCheckpointId). For a regional completion the
// failed regions' handles are copied into the file from the checkpoint they
// reference, never linked: restoring any region reads this one file (FLIP-600:
// "JM recovery only needs to read a single checkpoint metadata file").
//
// The package knows nothing of the coordinator's decisions: the driver builds
// CheckpointMetadata from the core's persist effect and the handles the acks
// carried, writes it with WriteMetadata before it reports the persist durable
// (R23), and removes a directory with Discard once the core discards the
// checkpoint (R40). Repair removes what a crash left half done.
package checkpointstorage
