package flinkapi

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/ckptcore/ckptcore/fsm"
)

// HexID turns a name into the 32-character lowercase hexadecimal id Flink's
// REST API uses for jobs and vertices (JobID, JobVertexID): a name that is
// already one is kept, any other is hashed (the first 16 bytes of its SHA-256),
// so the same name always gets the same id.
func HexID(name string) string {
	if IsHexID(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// IsHexID reports whether s is 32 lowercase hexadecimal characters.
func IsHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// VertexIDs returns the Flink vertex id of every vertex of the job, in job order.
func VertexIDs(t *fsm.Topology) []string {
	ids := make([]string, len(t.Vertices()))
	for i, v := range t.Vertices() {
		ids[i] = HexID("vertex/" + v.ID)
	}
	return ids
}

// FindVertex resolves a vertex by its Flink id or by its name in the job.
func FindVertex(t *fsm.Topology, id string) (int, bool) {
	for i, hid := range VertexIDs(t) {
		if hid == id {
			return i, true
		}
	}
	return t.VertexIndex(id)
}
