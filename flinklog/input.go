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
// reconstructed topology).
func HistoryWhatIfInput(h *history.History) WhatIfInput {
	in := WhatIfInput{Source: h.File, Header: h.Header}
	for _, r := range h.Records {
		in.Events = append(in.Events, r.Event)
	}
	return in
}
