package history

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// periodicHistory is a global job src(2)→sink(2) with n checkpoints, each
// triggered, acked and persisted, like the 1 GB history of BENCHMARKS.md.
func periodicHistory(n int) string {
	var b strings.Builder
	b.WriteString(`{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":2},{"id":"sink","parallelism":2}],"edges":[{"from":"src","to":"sink"}]},"config":{"interval_ms":1000,"timeout_ms":60000}}` + "\n")
	b.WriteString(`{"at":0,"type":"start"}` + "\n")
	for c := 1; c <= n; c++ {
		t := c * 1000
		fmt.Fprintf(&b, `{"at":%d,"type":"tick"}`+"\n", t)
		for i, task := range []string{"src/0", "src/1", "sink/0", "sink/1"} {
			fmt.Fprintf(&b, `{"at":%d,"type":"ack","checkpoint":%d,"task":"%s"}`+"\n", t+10+i, c, task)
		}
		fmt.Fprintf(&b, `{"at":%d,"type":"persisted","checkpoint":%d}`+"\n", t+20, c)
	}
	return b.String()
}

func replayString(t *testing.T, text string, opt Options) *Result {
	t.Helper()
	d, err := NewReader(strings.NewReader(text), "h.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReplayReader(d, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestMaxListedCapsTheSummary: with MaxListed, each list keeps its first
// entries — the same as without the cap — and "truncated" gives the full
// counts; under the cap the summary is byte-identical to the uncapped one.
func TestMaxListedCapsTheSummary(t *testing.T) {
	text := periodicHistory(40)
	full := replayString(t, text, Options{Check: true})
	if full.Summary.Truncated != nil || len(full.Summary.Completed) != 40 || len(full.Summary.Discarded) != 39 {
		t.Fatalf("uncapped: %d completed, %d discarded, truncated %+v", len(full.Summary.Completed),
			len(full.Summary.Discarded), full.Summary.Truncated)
	}
	capped := replayString(t, text, Options{Check: true, MaxListed: 7})
	s := capped.Summary
	if !reflect.DeepEqual(s.Triggered, full.Summary.Triggered[:7]) || !reflect.DeepEqual(s.Completed, full.Summary.Completed[:7]) ||
		!reflect.DeepEqual(s.Discarded, full.Summary.Discarded[:7]) {
		t.Errorf("capped lists are not the first 7 entries: %+v", s)
	}
	want := Truncated{Limit: 7, Triggered: 40, Completed: 40, Discarded: 39}
	if s.Truncated == nil || *s.Truncated != want {
		t.Errorf("truncated = %+v, want %+v", s.Truncated, want)
	}
	if capped.Counts != full.Counts {
		t.Errorf("counts %+v, uncapped %+v", capped.Counts, full.Counts)
	}
	if !strings.Contains(string(s.Encode()), `"truncated":{"limit":7,"triggered":40,"completed":40,"aborted":0,"trigger_failures":0,"discarded":39,"violations":0}}`) {
		t.Errorf("the document does not end with the truncated marker:\n%s", s.Encode())
	}
	under := replayString(t, text, Options{Check: true, MaxListed: 40})
	if string(under.Summary.Encode()) != string(full.Summary.Encode()) {
		t.Errorf("a cap no list reaches changed the document")
	}
}
