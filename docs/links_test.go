package docs

import (
	"bytes"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = ".."

// outsideAllowed lists the only files that may point outside the repository:
// they locate tools (the TLA+ jars) that CI installs next to it.
var outsideAllowed = map[string]bool{
	".ci/run":    true,
	"Makefile":   true,
	"tla/run.sh": true,
}

var (
	mdLink     = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	htmlAnchor = regexp.MustCompile(`<a id="([^"]+)"></a>`)
	heading    = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// repoFiles walks the working tree, skipping VCS data and build outputs.
func repoFiles(t *testing.T, keep func(rel string) bool) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == "bin" || strings.HasPrefix(d.Name(), ".") && rel != "." && rel != ".ci" {
				return filepath.SkipDir
			}
			return nil
		}
		if keep(rel) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// slug is GitHub's anchor for a Markdown heading: lower case, punctuation
// other than '-' and '_' dropped, spaces turned into '-'.
func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors lists every anchor a Markdown file offers: explicit <a id> tags and
// its headings' slugs.
func anchors(text []byte) map[string]bool {
	out := map[string]bool{}
	for _, m := range htmlAnchor.FindAllSubmatch(text, -1) {
		out[string(m[1])] = true
	}
	for _, m := range heading.FindAllSubmatch(text, -1) {
		title := strings.NewReplacer("`", "", "*", "").Replace(string(m[1]))
		out[slug(title)] = true
	}
	return out
}

// withoutCode drops fenced code blocks, whose brackets are not links.
func withoutCode(text []byte) []byte {
	var out [][]byte
	in := false
	for _, line := range bytes.Split(text, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("```")) {
			in = !in
			continue
		}
		if !in {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// TestMarkdownLinksResolve checks every relative link of every Markdown file:
// the target exists in the repository and, for a link into a Markdown file
// with a #fragment, the anchor exists there. The README must link only into
// the repository (a reader of a clone has nothing else).
func TestMarkdownLinksResolve(t *testing.T) {
	mds := repoFiles(t, func(rel string) bool { return strings.HasSuffix(rel, ".md") })
	if len(mds) < 5 {
		t.Fatalf("found only %d Markdown files: %v", len(mds), mds)
	}
	checked := 0
	for _, md := range mds {
		text, err := os.ReadFile(filepath.Join(repoRoot, md))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllSubmatch(withoutCode(text), -1) {
			target := string(m[1])
			u, err := url.Parse(target)
			if err != nil {
				t.Errorf("%s: link %q: %v", md, target, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				if md == "README.md" {
					t.Errorf("README.md links outside the repository: %s", target)
				}
				continue
			}
			file := md
			if u.Path != "" {
				file = filepath.ToSlash(filepath.Join(filepath.Dir(md), u.Path))
			}
			if strings.HasPrefix(file, "../") {
				t.Errorf("%s: link %q leaves the repository", md, target)
				continue
			}
			body, err := os.ReadFile(filepath.Join(repoRoot, file))
			if err != nil {
				if st, serr := os.Stat(filepath.Join(repoRoot, file)); serr == nil && st.IsDir() && u.Fragment == "" {
					checked++
					continue
				}
				t.Errorf("%s: link %q: %v", md, target, err)
				continue
			}
			if u.Fragment != "" && strings.HasSuffix(file, ".md") && !anchors(body)[u.Fragment] {
				t.Errorf("%s: link %q: %s has no anchor #%s", md, target, file, u.Fragment)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d links; the link pattern no longer matches", checked)
	}
}

// TestNothingPointsOutside checks that no file but the launchers of
// outsideAllowed refers to the directory the spec once lived in: the spec is
// docs/spec/, and a clone must be complete by itself.
func TestNothingPointsOutside(t *testing.T) {
	needle := []byte("/" + "shared/")
	self := "docs/links_test.go"
	for _, rel := range repoFiles(t, func(rel string) bool { return !outsideAllowed[rel] && rel != self }) {
		text, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(text, needle); i >= 0 {
			line := 1 + bytes.Count(text[:i], []byte("\n"))
			t.Errorf("%s:%d refers to a directory outside the repository", rel, line)
		}
	}
}

// TestSlug pins the anchor rule the link check relies on.
func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"10. Invariants":                         "10-invariants",
		"11. Known hazards to test, not to hide": "11-known-hazards-to-test-not-to-hide",
		"Importing a real Flink log, and \"what would regional checkpoints have saved?\"": "importing-a-real-flink-log-and-what-would-regional-checkpoints-have-saved",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
