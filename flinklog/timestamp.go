package flinklog

import "time"

// parseTimestamp reads the timestamp a record starts with and returns it in ms
// on its axis, with the rest of the line. Zones are ignored unless the stamp
// names one: only differences between records matter.
func parseTimestamp(s string) (int64, axis, string, bool) {
	if ms, rest, ok := parseDate(s); ok {
		return ms, axisDate, rest, true
	}
	if ms, rest, ok := parseClock(s); ok {
		return ms, axisClock, rest, true
	}
	// A bare integer (Flink's test layout, "%r"): ms since the JVM started.
	n := 0
	for n < len(s) && n < 16 && isDigit(s[n]) {
		n++
	}
	if n == 0 || n == len(s) || (s[n] != ' ' && s[n] != '\t') {
		return 0, 0, "", false
	}
	return digits(s[:n]), axisRelative, s[n:], true
}

// parseDate reads yyyy-MM-dd[ T]HH:mm:ss[,.fraction][zone].
func parseDate(s string) (int64, string, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') {
		return 0, "", false
	}
	if !allDigits(s[0:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return 0, "", false
	}
	ms, rest, ok := parseClock(s[11:])
	if !ok {
		return 0, "", false
	}
	y, mo, d := int(digits(s[0:4])), int(digits(s[5:7])), int(digits(s[8:10]))
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, "", false
	}
	day := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).UnixMilli()
	ms += day
	// Optional zone: Z, +hh:mm or +hhmm.
	switch {
	case len(rest) > 0 && rest[0] == 'Z':
		rest = rest[1:]
	case len(rest) >= 5 && (rest[0] == '+' || rest[0] == '-') && allDigits(rest[1:3]):
		hh, mm, n := digits(rest[1:3]), int64(0), 3
		if rest[3] == ':' && len(rest) >= 6 && allDigits(rest[4:6]) {
			mm, n = digits(rest[4:6]), 6
		} else if allDigits(rest[3:5]) {
			mm, n = digits(rest[3:5]), 5
		}
		off := (hh*60 + mm) * 60 * 1000
		if rest[0] == '+' {
			off = -off
		}
		ms += off
		rest = rest[n:]
	}
	return ms, rest, true
}

// parseClock reads HH:mm:ss followed by a fraction of a second (required, so
// that a stray "12:30:00" in a message does not start a record) as ms of day.
func parseClock(s string) (int64, string, bool) {
	if len(s) < 10 || s[2] != ':' || s[5] != ':' || (s[8] != ',' && s[8] != '.') {
		return 0, "", false
	}
	if !allDigits(s[0:2]) || !allDigits(s[3:5]) || !allDigits(s[6:8]) {
		return 0, "", false
	}
	h, m, sec := digits(s[0:2]), digits(s[3:5]), digits(s[6:8])
	if h > 23 || m > 59 || sec > 60 {
		return 0, "", false
	}
	n := 9
	for n < len(s) && n < 18 && isDigit(s[n]) {
		n++
	}
	if n == 9 {
		return 0, "", false
	}
	frac := s[9:n]
	for len(frac) < 3 {
		frac += "0"
	}
	ms := ((h*60+m)*60+sec)*1000 + digits(frac[:3])
	return ms, s[n:], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// digits converts a short run of ASCII digits (callers bound its length).
func digits(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n
}
