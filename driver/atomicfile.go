package driver

import "github.com/ckptcore/ckptcore/driver/internal/atomicfile"

// The store's crash-safe file operations live in driver/internal/atomicfile,
// shared with the checkpoint storage (driver/checkpointstorage).

// tmpPrefix starts the name of every temporary file the store writes. A crash
// may leave one behind; loading ignores and removes them.
const tmpPrefix = atomicfile.TmpPrefix

func writeFileAtomic(dir, name string, data []byte) error {
	return atomicfile.WriteFile(dir, name, data)
}
func removeFile(dir, name string) error { return atomicfile.RemoveFile(dir, name) }
func syncDir(dir string) error          { return atomicfile.SyncDir(dir) }
func removeTempFiles(dir string) error  { return atomicfile.RemoveTempFiles(dir) }
