package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Markers of the generated block in docs/sim.md.
var (
	beginMark = []byte("<!-- ckptexp:table:begin -->\n")
	endMark   = []byte("<!-- ckptexp:table:end -->")
)

// spliceDoc replaces the block between the markers of the document at path with
// the table, so that the prose and the numbers it discusses stay in one file
// and `make sim` keeps them in step. A missing document or one without markers
// is left alone.
func spliceDoc(path, table string) error {
	doc, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	i := bytes.Index(doc, beginMark)
	j := bytes.Index(doc, endMark)
	if i < 0 && j < 0 {
		return nil
	}
	if i < 0 || j < i {
		return fmt.Errorf("%s: the markers %q and %q are out of order", path, beginMark, endMark)
	}
	var out bytes.Buffer
	out.Write(doc[:i+len(beginMark)])
	out.WriteString(table)
	out.Write(doc[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}
