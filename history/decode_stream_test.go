package history

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// zeros is /dev/zero: an endless stream of NUL bytes without a newline. It
// counts what was read from it.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.n += int64(len(p))
	return len(p), nil
}

// TestReaderLineCap: an endless line ends with "line longer than" on its line
// after reading at most the cap and one buffer, never out of memory.
func TestReaderLineCap(t *testing.T) {
	z := &zeros{}
	_, err := NewReader(z, "/dev/zero")
	want := "/dev/zero:1: line longer than " + strconv.Itoa(MaxLineBytes) + " bytes"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
	if z.n > MaxLineBytes+2*(64<<10) {
		t.Errorf("read %d bytes to find a line longer than %d", z.n, MaxLineBytes)
	}
	// After the header, on the event's own line; a line of exactly the cap is fine.
	long := `{"at":1,"type":"tick"}` + strings.Repeat(" ", MaxLineBytes-22)
	h, err := Decode(strings.NewReader(withHeader(long)), "f")
	if err != nil || len(h.Records) != 2 {
		t.Fatalf("a line of exactly %d bytes: %v", MaxLineBytes, err)
	}
	_, err = Decode(strings.NewReader(withHeader("// ok", long+" ")), "f")
	var he *Error
	if !errors.As(err, &he) || he.Line != 4 || !strings.Contains(he.Reason, "line longer than") {
		t.Fatalf("a line one byte too long: %v", err)
	}
}

// TestReaderAgreesWithDecode: the streaming reader yields exactly Decode's
// records, and ReplayReader Replay's result, on every committed history.
func TestReaderAgreesWithDecode(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.jsonl")
	more, _ := filepath.Glob("testdata/golden/*/*.jsonl")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("only %d histories found", len(files))
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h, derr := Decode(strings.NewReader(string(data)), path)
		d, rerr := NewReader(strings.NewReader(string(data)), path)
		if rerr != nil {
			if derr == nil || derr.Error() != rerr.Error() {
				t.Errorf("%s: Decode %v, NewReader %v", path, derr, rerr)
			}
			continue
		}
		var recs []Record
		for {
			rec, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rerr = err
				break
			}
			recs = append(recs, rec)
		}
		if derr != nil || rerr != nil {
			if derr == nil || rerr == nil || derr.Error() != rerr.Error() {
				t.Errorf("%s: Decode %v, Reader %v", path, derr, rerr)
			}
			continue
		}
		if !reflect.DeepEqual(recs, h.Records) {
			t.Errorf("%s: the records differ", path)
		}
		want, werr := Replay(h, Options{Check: true})
		d, _ = NewReader(strings.NewReader(string(data)), path)
		got, gerr := ReplayReader(d, Options{Check: true})
		if (werr == nil) != (gerr == nil) || werr == nil && !reflect.DeepEqual(want, got) {
			t.Errorf("%s: Replay %v, ReplayReader %v", path, werr, gerr)
			continue
		}
		if werr != nil {
			continue
		}
		d, _ = NewReader(strings.NewReader(string(data)), path)
		counted, _ := ReplayReader(d, Options{Check: true, CountsOnly: true})
		s := want.Summary
		if n := (Counts{len(s.Triggered), len(s.Completed), len(s.Aborted), len(s.TriggerFailures), len(s.Discarded)}); counted.Counts != n ||
			len(counted.Summary.Triggered)+len(counted.Summary.Completed) != 0 || counted.Summary.MaxRefAge != s.MaxRefAge {
			t.Errorf("%s: CountsOnly counted %+v with lists of %d, want %+v", path, counted.Counts, len(counted.Summary.Triggered), n)
		}
	}
}

// TestReaderErrorIsSticky: after an error Next keeps returning it.
func TestReaderErrorIsSticky(t *testing.T) {
	d, err := NewReader(strings.NewReader(withHeader(`{"at":1,"type":"bogus"}`, `{"at":2,"type":"tick"}`)), "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.Next()
	_, err2 := d.Next()
	if err1 == nil || err1 != err2 || !strings.HasPrefix(err1.Error(), "f:3:") {
		t.Fatalf("%v then %v", err1, err2)
	}
}
