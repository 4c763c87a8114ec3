// Package atomicfile writes and removes files so that a crash at any point leaves
// either the old or the new state (temporary file, fsync, rename, fsync of the
// directory). The driver's FileStore and its checkpoint storage share it.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TmpPrefix starts the name of every temporary file the store writes. A crash
// may leave one behind; loading ignores and removes them.
const TmpPrefix = ".tmp-"

// WriteFile replaces dir/name with data so that after a crash at any
// point the file holds either its old content or the new one, never a torn
// mix, and a completed call survives a power loss: write a temporary file in
// the same directory (rename is atomic only within one file system), fsync it,
// rename it over the target, fsync the directory (the rename lives in the
// directory's data).
func WriteFile(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, TmpPrefix+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600; the store's files are as readable as its
	// directories, for backups and inspection.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return SyncDir(dir)
}

// RemoveFile deletes dir/name durably; a missing file is fine (a repeated
// delete after a crash).
func RemoveFile(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// RemoveTempFiles deletes temporary files a crash left in dir.
func RemoveTempFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TmpPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = true
		}
	}
	if removed {
		return SyncDir(dir)
	}
	return nil
}
