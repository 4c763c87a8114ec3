package main

import (
	"errors"
	"fmt"

	"github.com/ckptcore/ckptcore/history"
)

// Exit statuses of every subcommand: the replay contract of docs/spec/HISTORY.md.
const (
	exitOK      = 0 // done; every invariant held
	exitFailed  = 1 // an invariant failed or recorded effects diverged
	exitInvalid = 2 // invalid input or usage
)

// exitError carries a subcommand's exit status up to run, which prints msg (if
// any) once, on standard error.
type exitError struct {
	code   int
	msg    string
	usage  bool // a command-line mistake: run adds where to read the usage
	placed bool // msg begins with its place (file:line): run prints it bare
}

func (e *exitError) Error() string { return e.msg }

// usageErrorf is a command-line mistake: exit 2 with a pointer to the help.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitInvalid, msg: fmt.Sprintf(format, args...), usage: true}
}

// invalidInput is input that cannot be read or is not valid: exit 2. A
// history error already names its place (file:line: field: reason) and is
// printed as it is, as a compiler's would be.
func invalidInput(err error) error {
	var he *history.Error
	return &exitError{code: exitInvalid, msg: err.Error(), placed: errors.As(err, &he)}
}

// failed is exit 1 with a message; an empty message says the output already
// told (violations and divergences are printed where they are found).
func failed(format string, args ...any) error {
	return &exitError{code: exitFailed, msg: fmt.Sprintf(format, args...)}
}

// errFailedQuietly is exit 1 when the subcommand has already printed why.
var errFailedQuietly = &exitError{code: exitFailed}

// exitCode classifies an error returned by the command tree. Errors that are
// not an *exitError come from cobra itself (an unknown subcommand or flag, a
// missing argument): command-line mistakes.
func exitCode(err error) (code int, msg string, usage bool) {
	if err == nil {
		return exitOK, "", false
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code, e.msg, e.usage
	}
	return exitInvalid, err.Error(), true
}
