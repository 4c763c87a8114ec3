package flinklog

import (
	"strings"

	"github.com/ckptcore/ckptcore/history"
)

// LooksLikeHistory tells a history (NDJSON whose first line that is neither
// blank nor a // comment is a JSON object) from a JobManager log, so that a
// command can take either.
func LooksLikeHistory(data []byte) bool {
	for _, line := range strings.Split(string(data[:min(len(data), 1<<16)]), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "//") {
			continue
		}
		return strings.HasPrefix(t, "{")
	}
	return false
}

// HistoryWhatIfInput is the what-if input of a decoded history file: its
// header and events, with nothing an import would know (no log ids, no
// reconstructed topology). A resume or snapshot record that starts the file
// (a flight file's) is First, not an event.
func HistoryWhatIfInput(h *history.History) WhatIfInput {
	in := WhatIfInput{Source: h.File, Header: h.Header}
	recs := h.Records
	if len(recs) > 0 && (recs[0].Resume != nil || recs[0].Snapshot != nil) {
		first := recs[0]
		in.First, recs = &first, recs[1:]
	}
	for _, r := range recs {
		in.Events = append(in.Events, r.Event)
	}
	return in
}
