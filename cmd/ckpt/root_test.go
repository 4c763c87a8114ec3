package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// subcommands are every subcommand the issue asks for, with the word its
// one-line description must contain.
var subcommands = map[string]string{
	"replay": "history", "import-flink": "Flink", "what-if": "regional", "serve": "REST",
	"sim": "simulator", "explore": "interleaving", "minimize": "invariant",
}

// `ckpt help` and `ckpt` alone list every subcommand with a one-line
// description, on standard output.
func TestHelpListsEverySubcommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {}, {"--help"}} {
		code, out, errOut := ckpt(t, "", args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
		}
		for name, word := range subcommands {
			found := false
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) > 1 && f[0] == name && strings.Contains(line, word) {
					found = true
				}
			}
			if !found {
				t.Errorf("%q: no line %q with its description:\n%s", args, name, out)
			}
		}
	}
}

// `ckpt help CMD`, `ckpt CMD --help`, `ckpt CMD -h` and `ckpt CMD help` print
// CMD's help on standard output and exit 0.
func TestHelpOfEachSubcommand(t *testing.T) {
	for name := range subcommands {
		var first string
		for _, args := range [][]string{{"help", name}, {name, "--help"}, {name, "-h"}, {name, "help"}} {
			code, out, errOut := ckpt(t, "", args...)
			if code != 0 || errOut != "" || !strings.Contains(out, "Usage:\n  ckpt "+name) || !strings.Contains(out, "Exit status") {
				t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("%q: a different help than `ckpt help %s`", args, name)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := ckpt(t, "", "--version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "ckpt ") || !strings.Contains(out, "go1.") {
		t.Errorf("exit %d, %q %q", code, out, errOut)
	}
	for _, c := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "devel, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, "devel 0123456789ab+dirty, go1.26.8"},
	} {
		if got := describeBuild(&c.bi); got != c.want {
			t.Errorf("describeBuild(%+v) = %q, want %q", c.bi.Main, got, c.want)
		}
	}
}

// A mistake is reported once, on standard error, with the pointer to the
// help, and exits 2; nothing goes to standard output.
func TestUsageErrorsOnce(t *testing.T) {
	for _, args := range [][]string{{"nope"}, {"--nope"}, {"replay"}, {"what-if", "--regional"}, {"serve", "--seed", "x"}, {"help", "nope"}} {
		code, out, errOut := ckpt(t, "", args...)
		if args[0] == "help" { // cobra's help of an unknown topic: stdout, exit 0
			if code != 0 || !strings.Contains(out, "Unknown help topic") {
				t.Errorf("%q: exit %d, %q", args, code, out)
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != 2 || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "ckpt") || !strings.HasPrefix(lines[1], "Run 'ckpt") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestOptFlags(t *testing.T) {
	var i opt[int]
	var f opt[float64]
	if i.String() != "" || i.Set("3x") == nil || i.Set("1.5") == nil || i.set {
		t.Errorf("opt[int] took a non-integer: %+v", i)
	}
	if err := i.Set("-1"); err != nil || i.v != -1 || !i.set || i.String() != "-1" {
		t.Errorf("opt[int] -1: %v %+v", err, i)
	}
	if err := f.Set("0.25"); err != nil || f.v != 0.25 || f.Type() != "float64" || f.Set("x") == nil {
		t.Errorf("opt[float64]: %v %+v", err, f)
	}
	o := &output{value: "text", allowed: []string{"text", "json"}}
	if o.Set("html") == nil || o.Set("json") != nil || !o.is("json") {
		t.Errorf("output: %+v", o)
	}
}
