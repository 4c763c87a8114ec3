package flinklog

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"unicode"
)

// taskRef is a subtask as Flink names it: "Source: X (2/4)" is subtask index 1
// of vertex "Source: X" with parallelism 4.
type taskRef struct {
	name        string
	index       int // 0-based
	parallelism int
}

// maxParallelism bounds what a log may claim, so that a corrupt "(1/999999999)"
// cannot make the import allocate a huge job. Flink's own limit is 32768.
const maxParallelism = 32768

func (t taskRef) valid() bool {
	return t.name != "" && t.parallelism >= 1 && t.parallelism <= maxParallelism &&
		t.index >= 0 && t.index < t.parallelism
}

// String renders the subtask as Flink names it.
func (t taskRef) String() string {
	return fmt.Sprintf("%s (%d/%d)", t.name, t.index+1, t.parallelism)
}

var (
	reTaskRef = regexp.MustCompile(`^(.+?) \((\d{1,9})/(\d{1,9})\)(?:#\d+)?$`)
	// Task names inside exception text: "Could not complete snapshot 1 for
	// operator NAME (7/12)", "Task NAME (1/1) was not running", "Task name with
	// subtask : NAME (1/2)#0", "task NAME (4/8) of job".
	reTaskInText = regexp.MustCompile(`(?:for operator |\b[Tt]ask |subtask : )(.+?) \((\d{1,9})/(\d{1,9})\)`)
)

// parseTaskRef parses "NAME (i/p)" with an optional "#attempt" suffix.
func parseTaskRef(s string) (taskRef, bool) {
	g := reTaskRef.FindStringSubmatch(strings.TrimSpace(s))
	if g == nil {
		return taskRef{}, false
	}
	t := taskRef{name: cleanName(g[1]), index: int(atoi64(g[2])) - 1, parallelism: int(atoi64(g[3]))}
	return t, t.valid()
}

// findTask finds the first subtask named in free text (an exception message).
func findTask(s string) (taskRef, bool) {
	g := reTaskInText.FindStringSubmatch(s)
	if g == nil {
		return taskRef{}, false
	}
	// 1.15+: "Task name with subtask : NAME (i/p)#a": "Task " matches first.
	name := strings.TrimPrefix(cleanName(g[1]), "name with subtask : ")
	t := taskRef{name: name, index: int(atoi64(g[2])) - 1, parallelism: int(atoi64(g[3]))}
	return t, t.valid()
}

func cleanName(s string) string { return strings.TrimSpace(s) }

// vertexID turns a Flink task name into an id the history format accepts (no
// '/', no whitespace, SEMANTICS R1) that a person still recognises:
// "Source: Custom Source -> Map" becomes "Source:Custom_Source->Map". Long
// chained names are cut and keep a short hash, so two long names that share a
// prefix stay distinct.
func vertexID(name string) string {
	s := strings.ReplaceAll(name, " -> ", "->")
	s = strings.ReplaceAll(s, ": ", ":")
	var b strings.Builder
	under := false
	for _, r := range s {
		bad := r == '/' || r == '\\' || r == '"' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
		if bad {
			if !under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = true
			continue
		}
		under = false
		b.WriteRune(r)
	}
	id := strings.TrimRight(b.String(), "_")
	if id == "" {
		id = "vertex"
	}
	const maxRunes = 48
	if r := []rune(id); len(r) > maxRunes {
		h := fnv.New32a()
		h.Write([]byte(name))
		id = string(r[:maxRunes-9]) + fmt.Sprintf("~%08x", h.Sum32())
	}
	return id
}
