package flinklog

import (
	"bufio"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// axis is the clock a record's timestamp is on. Records on different axes
// cannot be ordered against each other, so a log keeps the axis of its first
// record.
type axis uint8

const (
	axisDate     axis = iota + 1 // yyyy-MM-dd HH:mm:ss,SSS: ms since the epoch (zone ignored unless given)
	axisClock                    // HH:mm:ss,SSS only (IDE and MiniCluster layouts): ms of day, rolled over
	axisRelative                 // a bare integer: ms since the process started (Flink's test layout)
)

// record is one log record: a header line (timestamp, level, logger, message)
// and the continuation lines that follow it (stack traces, wrapped messages).
type record struct {
	line   int // physical line of the header, 1-based
	at     int64
	level  string
	thread string
	logger string
	msg    string
	cont   []string
}

// text is the whole record: message and continuation lines.
func (r *record) text() string {
	if len(r.cont) == 0 {
		return r.msg
	}
	return r.msg + "\n" + strings.Join(r.cont, "\n")
}

// loggerName is the logger's simple class name, so that full, abbreviated
// (o.a.f.r.c.CheckpointCoordinator) and short (%c{1}) logger layouts compare alike.
func (r *record) loggerName() string {
	if i := strings.LastIndexByte(r.logger, '.'); i >= 0 {
		return r.logger[i+1:]
	}
	return r.logger
}

// flinkLogger reports whether the record comes from Flink itself rather than
// user code, whose messages may mention checkpoints too ("checkpointId: 3").
func (r *record) flinkLogger() bool {
	l := r.logger
	if strings.HasPrefix(l, "org.apache.flink.") || strings.HasPrefix(l, "o.a.f.") {
		return true
	}
	_, known := flinkLoggerNames[r.loggerName()]
	return known && !strings.Contains(l, ".")
}

// flinkLoggerNames are the Flink classes whose lines this package reads; a log
// layout that prints only the simple class name (%c{1}) is recognised by them.
var flinkLoggerNames = map[string]struct{}{
	"CheckpointCoordinator": {}, "CheckpointFailureManager": {}, "ExecutionGraph": {}, "Execution": {},
	"JobMaster": {}, "Task": {}, "RestartPipelinedRegionFailoverStrategy": {}, "DefaultScheduler": {},
	"StandaloneDispatcher": {}, "Dispatcher": {}, "StreamTask": {}, "AdaptiveScheduler": {},
	"SourceCoordinator": {},
}

// logFile is a log split into records.
type logFile struct {
	records     []record
	orphans     []Unparsed // lines before the first record that are not records
	lines       int
	annotations int // '#' lines: the excerpts' annotations, never Flink output
	joined      int // physical lines joined to the line a terminal wrapped
	wrapWidth   int // the terminal width lines were wrapped at, 0 if none
}

// maxLine bounds one physical line; a longer one is cut, not rejected, so that
// a binary blob in a log cannot exhaust memory.
const maxLine = 1 << 20

// readLog splits a log into records. A line that starts with a timestamp, a
// level and a logger begins a record; any other line continues the record before
// it. Lines a terminal wrapped are joined first (wrap: the width, 0 = detect,
// < 0 = never; see unwrap). Lines on another clock than the first record's are
// reported, not guessed.
func readLog(r io.Reader, wrap int) (*logFile, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	lf := &logFile{}
	var phys []string
	for {
		raw, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if raw == "" && err != nil {
			break
		}
		phys = append(phys, strings.TrimRight(raw, "\r\n"))
		if err != nil {
			break
		}
	}
	lf.lines = len(phys)
	var first axis
	var dayOffset, prevClock int64
	for _, ll := range unwrap(phys, wrap, lf) {
		line := strings.TrimRight(ll.text, " \t")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "":
		case strings.HasPrefix(trimmed, "#"):
			lf.annotations++
		default:
			rec, ax, ok := parseHeader(trimmed)
			if ok && first == 0 {
				first = ax
			}
			if ok && ax != first {
				lf.orphans = append(lf.orphans, Unparsed{Line: ll.line, Text: clip(trimmed),
					Why: "timestamp on another clock than the log's first record; its time cannot be compared"})
				break
			}
			if ok {
				if ax == axisClock {
					// A time-only layout wraps at midnight: a jump back of more than
					// half a day is the next day, a smaller one is thread interleaving.
					if rec.at+dayOffset < prevClock-12*3600*1000 {
						dayOffset += 24 * 3600 * 1000
					}
					rec.at += dayOffset
					prevClock = rec.at
				}
				rec.line = ll.line
				lf.records = append(lf.records, rec)
				break
			}
			if n := len(lf.records); n > 0 {
				lf.records[n-1].cont = append(lf.records[n-1].cont, trimmed)
				break
			}
			lf.orphans = append(lf.orphans, Unparsed{Line: ll.line, Text: clip(trimmed),
				Why: "not a log record (no timestamp, level and logger) and no record before it to continue"})
		}
	}
	return lf, nil
}

// logicalLine is a line as the program wrote it, and its first physical line.
type logicalLine struct {
	line int
	text string
}

// unwrap joins the lines a terminal wrapped. A log copied from a terminal has
// every line longer than the terminal cut into rows of exactly its width W, so
// W is the longest line's length (in characters), when at least two lines have
// it (one line of maximal length is no evidence of a terminal). A row of W
// characters is joined with the next when that one begins no record and is
// not a line of a stack trace (wrappedRow). Without this,
// a record whose header was cut would continue the record before it, and a
// message cut inside a task's attempt id would blame another subtask.
func unwrap(phys []string, wrap int, lf *logFile) []logicalLine {
	w := wrap
	if w == 0 {
		w = wrapWidth(phys)
	}
	out := make([]logicalLine, 0, len(phys))
	for i := 0; i < len(phys); i++ {
		ll := logicalLine{line: i + 1, text: phys[i]}
		piece := phys[i]
		for w > 0 && utf8.RuneCountInString(piece) == w && i+1 < len(phys) && len(ll.text) < maxLine && wrappedRow(phys[i+1]) {
			i++
			piece = phys[i]
			ll.text += piece
			lf.joined++
		}
		out = append(out, ll)
	}
	if lf.joined > 0 {
		lf.wrapWidth = w
	}
	return out
}

// minWrapWidth is the narrowest terminal unwrap detects.
const minWrapWidth = 60

// wrapWidth detects the terminal width a log was wrapped at, 0 if none.
func wrapWidth(phys []string) int {
	longest, count := 0, 0
	for _, l := range phys {
		switch n := utf8.RuneCountInString(l); {
		case n > longest:
			longest, count = n, 1
		case n == longest:
			count++
		}
	}
	if longest < minWrapWidth || count < 2 {
		return 0
	}
	wrapped := 0
	for i, l := range phys[:len(phys)-1] {
		if utf8.RuneCountInString(l) == longest && wrappedRow(phys[i+1]) {
			wrapped++
		}
	}
	if wrapped < 2 {
		return 0
	}
	return longest
}

// wrappedRow says whether a line can be the rest of a wrapped row: it begins
// no record and is no line a program writes after a record of its own (an
// indented stack-trace line, "at …" or "... N more"; an exception's
// "pkg.Class: message" line; "Caused by:"; a '#' annotation). A row may be
// indented: the cut can fall inside a layout's padding.
func wrappedRow(l string) bool {
	t := strings.TrimSpace(l)
	indented := strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "  ")
	if t == "" || strings.HasPrefix(t, "#") || reExceptionLine.MatchString(t) ||
		indented && (strings.HasPrefix(t, "at ") || strings.HasPrefix(t, "...")) {
		return false
	}
	_, _, isRecord := parseHeader(t)
	return !isRecord
}

// reExceptionLine is the first line of a printed throwable, or of its cause.
var reExceptionLine = regexp.MustCompile(`^(?:Caused by: |Suppressed: )|^[A-Za-z_$][\w$]*(?:\.[\w$]+)+(?::|$)`)

// readLine reads one line, cutting it at maxLine.
func readLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		frag, err := br.ReadSlice('\n')
		if b.Len() < maxLine {
			room := maxLine - b.Len()
			if len(frag) > room {
				frag = frag[:room]
			}
			b.Write(frag)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return b.String(), err
	}
}

// clip shortens a line for a report.
func clip(s string) string {
	const n = 300
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut-- // do not split a UTF-8 sequence
	}
	return s[:cut] + "…"
}

// parseHeader recognises the record layouts Flink ships and the usual custom ones:
//
//	2021-08-18 18:28:40,502 INFO  org.apache...CheckpointCoordinator    [] - msg   (log4j2, 1.11+)
//	2019-05-17 15:43:08,068 INFO  org.apache...CheckpointCoordinator     - msg     (log4j1, ≤ 1.10)
//	2023-03-18 02:20:33.877 [Checkpoint Timer] INFO  org.apache... - msg           (logback, thread column)
//	08:55:45,960 INFO  org.apache... [] - msg                                      (time of day only)
//	4873 [main] INFO  org.apache... [] - msg                                       (ms since start)
//
// The thread column may also follow the level, and any number of bracketed
// MDC/NDC columns may stand between the logger and " - ".
func parseHeader(s string) (record, axis, bool) {
	var rec record
	at, ax, rest, ok := parseTimestamp(s)
	if !ok {
		return rec, 0, false
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, "[") {
		if rec.thread, rest, ok = bracket(rest); !ok {
			return rec, 0, false
		}
		rest = strings.TrimLeft(rest, " \t")
	}
	level, rest := word(rest)
	if !isLevel(level) {
		return rec, 0, false
	}
	rest = strings.TrimLeft(rest, " \t")
	if rec.thread == "" && strings.HasPrefix(rest, "[") {
		if rec.thread, rest, ok = bracket(rest); !ok {
			return rec, 0, false
		}
		rest = strings.TrimLeft(rest, " \t")
	}
	logger, rest := word(rest)
	if logger == "" || logger == "-" {
		return rec, 0, false
	}
	rest = strings.TrimLeft(rest, " \t")
	for strings.HasPrefix(rest, "[") {
		if _, rest, ok = bracket(rest); !ok {
			return rec, 0, false
		}
		rest = strings.TrimLeft(rest, " \t")
	}
	switch {
	case rest == "-":
		rest = ""
	case strings.HasPrefix(rest, "- "):
		rest = rest[2:]
	default:
		return rec, 0, false
	}
	rec.at, rec.level, rec.logger, rec.msg = at, level, logger, strings.TrimSpace(rest)
	return rec, ax, true
}

func isLevel(s string) bool {
	switch s {
	case "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL":
		return true
	}
	return false
}

// word splits off the text up to the next space or tab.
func word(s string) (string, string) {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// bracket splits off a bracketed column, counting nesting: thread names such as
// "[Source: datagen[1] -> Calc[2] (1/4)#0]" contain brackets themselves.
func bracket(s string) (inner, rest string, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:], true
			}
		}
	}
	return "", s, false
}
