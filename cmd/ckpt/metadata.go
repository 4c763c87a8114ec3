package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
)

const metadataLong = `Print a checkpoint's _metadata file: what a restore of the job would read.

PATH is a _metadata file (docs/spec/METADATA.md) or a checkpoint's directory
(<checkpoints-dir>/<job>/chk-<id>) holding one. The file is read and validated
as a restore reads it (checkpointstorage.ReadMetadata); the text form lists,
region by region, the checkpoint each region's state comes from and every
subtask's state handle. -o json prints the validated file in its canonical
form.

Exit status: 0 the file is valid; 2 it is missing or malformed (the error
names the file, the field and the value), or a usage error.`

func (a *app) metadataCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "metadata [flags] PATH",
		Short:   "Print a checkpoint's _metadata file (what a restore reads)",
		Long:    metadataLong,
		Example: "  ckpt metadata /var/ckpt/job/chk-7\n  ckpt metadata -o json /var/ckpt/job/chk-7/_metadata",
		Args:    oneFile("_metadata file or checkpoint directory"),
	}
	out := outputFlag(c, "text: by region; json: the validated file", "text", "json")
	c.RunE = func(_ *cobra.Command, args []string) error {
		return a.runMetadata(args[0], out.is("json"))
	}
	return c
}

func (a *app) runMetadata(path string, asJSON bool) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, checkpointstorage.MetadataFile)
	}
	m, err := checkpointstorage.ReadMetadata(path)
	if err != nil {
		return invalidInput(err)
	}
	if asJSON {
		data, err := checkpointstorage.Encode(m)
		if err != nil {
			return invalidInput(err)
		}
		_, err = a.stdout.Write(data)
		return err
	}
	return writeMetadataText(a.stdout, path, m)
}

// writeMetadataText renders m region by region: the checkpoint each region
// restores from and each subtask's handle.
func writeMetadataText(w io.Writer, path string, m *checkpointstorage.CheckpointMetadata) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", path)
	fmt.Fprintf(&b, "%s %d of job %s: %s", m.Kind, m.Checkpoint, m.Job, m.Mode)
	if m.Consecutive > 0 {
		fmt.Fprintf(&b, " (consecutive regional completions: %d)", m.Consecutive)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "triggered %s, completed %s (%d ms)\n", msTime(m.TriggeredMs), msTime(m.CompletedMs), m.CompletedMs-m.TriggeredMs)
	vs := make([]string, len(m.Vertices))
	for i, v := range m.Vertices {
		vs[i] = fmt.Sprintf("%s (%d)", v.ID, v.Parallelism)
	}
	fmt.Fprintf(&b, "vertices: %s; %d subtasks in %d regions\n", strings.Join(vs, ", "), len(m.Subtasks), m.NumRegions())
	for r := 0; r < m.NumRegions(); r++ {
		subs, err := m.RestoreRegion(r)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "region r%d: state of checkpoint %d", r, subs[0].Ref)
		if subs[0].Ref != m.Checkpoint {
			b.WriteString(" (failed here; handles copied from that checkpoint)")
		}
		b.WriteString("\n")
		for _, s := range subs {
			fmt.Fprintf(&b, "  %-24s %s\n", s.Task, describeHandle(s.Handle.URI, s.Handle.Inline, s.Handle.Size))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func describeHandle(uri string, inline []byte, size int64) string {
	switch {
	case uri != "":
		return fmt.Sprintf("%s (%d bytes)", uri, size)
	case inline != nil:
		return fmt.Sprintf("inline, %d bytes", len(inline))
	case size > 0:
		return fmt.Sprintf("%d bytes, no location", size)
	}
	return "no state"
}

func msTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}
