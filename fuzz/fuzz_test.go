package fuzz

// Coverage-guided fuzz targets. Their seed corpora are committed under
// testdata/fuzz/<FuzzName>/ and run as ordinary tests by `go test ./fuzz/`;
// `make fuzz` runs each target for $(FUZZTIME):
//
//	go test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./fuzz/
//
// FuzzCore, the core's byte-driven event generator, lives in ./corefuzz: a
// small test binary is what makes it fast under the fuzzing engine. The
// FuzzDecode seeds are the examples' histories and hand-made broken ones.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// FuzzDecode feeds arbitrary bytes to history.Decode: it must never panic,
// every error must be a *history.Error naming a line of the input (≥ 1), and
// whatever decodes must survive a Writer round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if hugeJob(data) {
			t.Skip("a job this large only measures the machine's memory")
		}
		h, err := history.Decode(bytes.NewReader(data), "fuzz.jsonl")
		if err != nil {
			var he *history.Error
			if !errors.As(err, &he) {
				t.Fatalf("error is a %T, not a *history.Error: %v", err, err)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; he.Line < 1 || he.Line > lines+1 {
				t.Fatalf("error on line %d of a %d-line input: %v", he.Line, lines, err)
			}
			return
		}
		var buf bytes.Buffer
		w, err := history.NewWriter(&buf, h.Header)
		if err != nil {
			t.Fatalf("a decoded header does not encode: %v", err)
		}
		for _, r := range h.Records {
			if err := w.WriteEvent(r.Event, nil); err != nil {
				t.Fatalf("line %d does not encode: %v", r.Line, err)
			}
		}
		back, err := history.Decode(&buf, "again.jsonl")
		if err != nil {
			t.Fatalf("the re-encoded history does not decode: %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(back.Header, h.Header) {
			t.Fatalf("header changed in the round trip:\n%+v\n%+v", h.Header, back.Header)
		}
		if len(back.Records) != len(h.Records) {
			t.Fatalf("%d records after the round trip, %d before", len(back.Records), len(h.Records))
		}
		for i := range back.Records {
			if !reflect.DeepEqual(back.Records[i].Event, h.Records[i].Event) {
				t.Fatalf("record %d changed in the round trip:\n%+v\n%+v", i, h.Records[i].Event, back.Records[i].Event)
			}
		}
	})
}

// hugeJob reports whether the input's header asks for more than 10000
// subtasks. Decode would build that topology (it is valid: the core accepts up
// to 2^30 subtasks), and the fuzzer would spend its memory on it instead of
// looking for bugs. encoding/json matches keys loosely, so this errs towards
// skipping.
func hugeJob(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || bytes.HasPrefix(line, []byte("//")) {
			continue
		}
		var hdr struct {
			Job struct {
				Vertices []struct {
					Parallelism json.Number
				}
			}
		}
		if json.Unmarshal(line, &hdr) != nil {
			return false
		}
		total := 0.0
		for _, v := range hdr.Job.Vertices {
			p, err := v.Parallelism.Float64()
			if err == nil && p > 0 {
				total += p
			}
		}
		return total > 10000
	}
	return false
}
