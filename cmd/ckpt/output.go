package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// output is the -o/--output flag: the one way every subcommand with a
// machine-readable form chooses it. The first allowed value is the default.
type output struct {
	value   string
	allowed []string
}

func (o *output) String() string { return o.value }
func (o *output) Type() string   { return "format" }

// Set refuses a format the subcommand does not have.
func (o *output) Set(s string) error {
	if !slices.Contains(o.allowed, s) {
		return fmt.Errorf("%q: want %s", s, strings.Join(o.allowed, " or "))
	}
	o.value = s
	return nil
}

// is tells whether the chosen format is f.
func (o *output) is(f string) bool { return o.value == f }

// outputFlag registers -o/--output on c; what says what the formats print.
func outputFlag(c *cobra.Command, what string, allowed ...string) *output {
	o := &output{value: allowed[0], allowed: allowed}
	c.Flags().VarP(o, "output", "o", "output `format`: "+strings.Join(allowed, ", ")+" ("+what+")")
	return o
}

// opt is a numeric flag whose unset state means "inferred" or "from the
// input": the help shows the flag's description only, never a sentinel such
// as -1 as its default. Changed tells whether it was given.
type opt[T int | int64 | float64] struct {
	v   T
	set bool
}

func (o *opt[T]) String() string {
	if !o.set {
		return ""
	}
	return fmt.Sprint(o.v)
}

func (o *opt[T]) Type() string { return fmt.Sprintf("%T", o.v) }

// Set parses a number of the flag's type; bounds are the library's to check.
func (o *opt[T]) Set(s string) error {
	var err error
	switch p := any(&o.v).(type) {
	case *int:
		*p, err = strconv.Atoi(s)
	case *int64:
		*p, err = strconv.ParseInt(s, 10, 64)
	case *float64:
		*p, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return fmt.Errorf("%q is not a valid %s", s, o.Type())
	}
	o.set = true
	return nil
}
