package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// convert turns an NDJSON history into the binary variant and back, byte for
// byte; the binary file replays as the NDJSON one does; the default direction
// is the other format than the input's, --to forces one.
func TestConvertRoundTrip(t *testing.T) {
	in := filepath.Join("..", "..", "examples", "regional-completion.jsonl")
	dir := t.TempDir()
	bin, back := filepath.Join(dir, "h.bin"), filepath.Join(dir, "h.jsonl")
	if code, out, errOut := ckpt(t, "", "convert", in, bin); code != 0 || out != "" || errOut != "" {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(bin)
	if !history.IsBinary(b) {
		t.Fatalf("%s is not binary", bin)
	}
	if code, _, errOut := ckpt(t, "", "convert", bin, back); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got, want := fixture(t, back), fixture(t, in); got != want {
		t.Fatalf("NDJSON → binary → NDJSON differs:\n%s\n---\n%s", got, want)
	}
	_, a, _ := ckpt(t, "", "replay", "-o", "json", in)
	code, c, errOut := ckpt(t, "", "replay", "-o", "json", bin)
	if code != 0 || a != c {
		t.Fatalf("replay of the binary file: exit %d %s\n%s\nNDJSON: %s", code, errOut, c, a)
	}
	// Standard input and output, and --to.
	code, out, _ := ckpt(t, fixture(t, in), "convert", "--to", "ndjson", "-", "-")
	if code != 0 || out != fixture(t, in) {
		t.Fatalf("--to ndjson of NDJSON: exit %d\n%s", code, out)
	}
	code, out, _ = ckpt(t, string(b), "convert", "--to", "binary", "-", "-")
	if code != 0 || out != string(b) {
		t.Fatalf("--to binary of binary: exit %d, %d bytes, want %d", code, len(out), len(b))
	}
}

// Invalid input exits 2 naming the place, and no output file is written;
// usage errors exit 2 too.
func TestConvertRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "global-basic.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	if err := history.ToBinary(&bin, bytes.NewReader(b), "x"); err != nil {
		t.Fatal(err)
	}
	torn := writeTemp(t, "torn.bin", string(bin.Bytes()[:bin.Len()-3]))
	out := filepath.Join(dir, "out.jsonl")
	code, _, errOut := ckpt(t, "", "convert", torn, out)
	if code != 2 || !strings.Contains(errOut, torn+":") || !strings.Contains(errOut, "(byte ") || !strings.Contains(errOut, "torn last record") {
		t.Fatalf("torn input: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("an output file was written for invalid input")
	}
	bad := writeTemp(t, "bad.jsonl", string(b)+`{"at":1,"type":"ack"}`+"\n")
	if code, _, errOut := ckpt(t, "", "convert", bad, out); code != 2 || !strings.Contains(errOut, "bad.jsonl:") {
		t.Fatalf("invalid NDJSON: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"convert", torn}, {"convert", "--to", "xml", torn, out}} {
		if code, _, errOut := ckpt(t, "", args...); code != 2 || errOut == "" {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

// ckpt serve --flight-format binary writes flight-<n>.bin files, which replay
// and convert; a bad value is a usage error.
func TestServeFlightFormatBinary(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	_, done := startServe(t.Context(), t, "--state-dir", state, "--interval", "20", "--ack-min", "1", "--ack-max", "3",
		"--flight-format", "binary", "--duration", "400ms")
	r := waitServe(t, done)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(state, "flight", "flight-*.bin"))
	if len(files) == 0 {
		t.Fatal("no binary flight file")
	}
	for _, f := range files {
		if code, _, errOut := ckpt(t, "", "replay", "-o", "json", f); code != 0 {
			t.Fatalf("replay %s: exit %d: %s", f, code, errOut)
		}
		if code, out, errOut := ckpt(t, "", "convert", f, "-"); code != 0 || !strings.HasPrefix(out, `{"format":"ckpt-history/`) {
			t.Fatalf("convert %s: exit %d: %s", f, code, errOut)
		}
	}
	if code, _, errOut := ckpt(t, "", "serve", "--flight-format", "xml"); code != 2 || !strings.Contains(errOut, "want ndjson or binary") {
		t.Fatalf("--flight-format xml: exit %d: %s", code, errOut)
	}
}
