package history

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeReplay feeds arbitrary event lines after a fixed header: Decode and
// Replay must never panic, every error must be an *Error on a line of the
// input, and whatever decodes must encode and decode back to the same events.
// The header is fixed so that the fuzzer does not spend its time on (or run
// out of memory building) jobs with a billion subtasks.
//
//	go test ./history -run '^$' -fuzz FuzzDecodeReplay -fuzztime 30s
func FuzzDecodeReplay(f *testing.F) {
	for _, p := range []string{"testdata/replay/regional.jsonl", "testdata/replay/diverged.jsonl"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		_, events, _ := strings.Cut(string(b), "\n{\"format\"")
		_, events, _ = strings.Cut(events, "\n")
		f.Add(events)
	}
	for _, p := range []string{start, `{"at":0,"type":"start","restore":{"checkpoint":3,"mode":"no_claim","refs":{"r1":2}}}`} {
		f.Add(p + "\n{\"at\":5,\"type\":\"config_patch\",\"request\":1,\"interval_ms\":20}\n")
	}
	f.Fuzz(func(t *testing.T, events string) {
		text := hdr + "\n" + events
		h, err := Decode(strings.NewReader(text), "f")
		if err != nil {
			var he *Error
			if !errors.As(err, &he) || he.Line < 1 || he.Line > strings.Count(text, "\n")+2 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var trace bytes.Buffer
		res, err := Replay(h, Options{Check: true, Trace: &trace})
		if err != nil {
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("replay error %T %v", err, err)
			}
		} else {
			_ = res.Summary.Encode()
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, h.Header)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h.Records {
			if err := w.WriteEvent(r.Event, nil); err != nil {
				t.Fatal(err)
			}
		}
		back, err := Decode(&buf, "again")
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, buf.String())
		}
		for i := range back.Records {
			if a, b := back.Records[i].Event, h.Records[i].Event; !reflect.DeepEqual(a, b) {
				t.Fatalf("record %d: %+v after round trip, was %+v", i, a, b)
			}
		}
	})
}
