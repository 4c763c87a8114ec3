package main

import (
	"strings"
	"testing"
)

// TestReplayHTML: -o html writes one self-contained page with the history's
// checkpoint as a mark, and exits as replay does.
func TestReplayHTML(t *testing.T) {
	path := writeTemp(t, "ok.jsonl", valid)
	code, out, stderr := ckptApp(t, nil, "", "replay", "-o", "html", path)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(out, "<!DOCTYPE html>") || strings.Count(out, `class="ck completed global"`) != 1 ||
		!strings.Contains(out, "<svg") || strings.Contains(out, "http://") && !strings.Contains(out, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Fatalf("page:\n%s", out)
	}
	for _, external := range []string{"<script src", "<link ", "@import", "url("} {
		if strings.Contains(out, external) {
			t.Errorf("the page loads something: %q", external)
		}
	}
	code, _, stderr = ckptApp(t, nil, "", "replay", "-o", "pdf", path)
	if code != 2 || !strings.Contains(stderr, `"pdf": want text or json or html`) {
		t.Errorf("-o pdf: exit %d, %q", code, stderr)
	}
}
