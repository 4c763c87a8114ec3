package etcd

import (
	"fmt"
	"regexp"

	"github.com/ckptcore/ckptcore/fsm"
)

// jobIDPattern is what a job id may be: one key segment, no "/" (a job's
// prefix must not contain another job's).
var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// CheckJobID refuses a job id that cannot be one segment of an etcd key.
func CheckJobID(job string) error {
	if !jobIDPattern.MatchString(job) || job == "." || job == ".." {
		return fmt.Errorf("job id %q: want 1 to 128 of A-Z a-z 0-9 . _ - (one etcd key segment)", job)
	}
	return nil
}

// Prefix is the prefix of every key of a job.
func Prefix(job string) string { return "/ckpt/" + job + "/" }

// ElectionPrefix is the prefix of a job's election keys (concurrency.Election).
func ElectionPrefix(job string) string { return Prefix(job) + "leader/" }

func nextIDKey(job string) string    { return Prefix(job) + "next-id" }
func overridesKey(job string) string { return Prefix(job) + "overrides" }
func restoredKey(job string) string  { return Prefix(job) + "restored" }

// metadataKey is a checkpoint's or savepoint's key; the id is zero-padded so
// that key order is id order.
func metadataKey(job string, kind fsm.Kind, id int64) string {
	dir := "checkpoints/"
	if kind.IsSavepoint() {
		dir = "savepoints/"
	}
	return fmt.Sprintf("%s%s%020d", Prefix(job), dir, id)
}
