package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/history"
)

const convertLong = `Convert a history between its NDJSON form and the binary variant that the
driver's flight recorder writes with --flight-format binary (flight-<n>.bin;
docs/spec/HISTORY.md, "Binary variant").

A binary file becomes the NDJSON file the NDJSON recorder would have written
for the same run, byte for byte; an NDJSON file becomes a binary one that
converts back to it byte for byte. The input is checked as replay checks it
(every error names file:line and, in a binary file, the byte offset) and the
output is written only when the whole input is valid. By default the output
is in the other format than the input's; --to chooses. Every ckpt command reads
both formats, so converting is for other tools (jq, grep) and for archives.

Exit status: 0 converted; 2 the input is unreadable or invalid, or the output
cannot be written.`

func (a *app) convertCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "convert [flags] IN OUT",
		Short: "Convert a history between NDJSON and the flight recorder's binary variant",
		Long:  convertLong,
		Example: `  ckpt convert state/flight/flight-3.bin flight-3.jsonl
  ckpt convert examples/global-basic.jsonl - | ckpt replay -
  ckpt convert --to ndjson flight-3.bin - | jq -c 'select(.type == "trigger")'`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && helpWord(args[0]):
				return errHelpAsked
			case len(args) != 2:
				return usageErrorf("want an input and an output file (- for standard input or output), got %d arguments", len(args))
			}
			return nil
		},
	}
	to := c.Flags().String("to", "", "output `format`: ndjson or binary (default: the other format than the input's)")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if *to != "" && *to != "ndjson" && *to != "binary" {
			return usageErrorf("--to %q: want ndjson or binary", *to)
		}
		return a.runConvert(args[0], args[1], *to)
	}
	return c
}

func (a *app) runConvert(inPath, outPath, to string) error {
	in, name := io.Reader(a.stdin), "<stdin>"
	if inPath != "-" {
		f, err := os.Open(inPath)
		if err != nil {
			return invalidInput(err)
		}
		defer f.Close()
		in, name = f, inPath
	}
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(len(history.BinaryMagic))
	if to == "" {
		to = "binary"
		if history.IsBinary(head) {
			to = "ndjson"
		}
	}
	convert := history.ToBinary
	if to == "ndjson" {
		convert = history.ToNDJSON
	}
	// The whole output is built first: a file is written only for a valid
	// input, never half.
	var out bytes.Buffer
	if err := convert(&out, br, name); err != nil {
		return invalidInput(err)
	}
	if outPath == "-" {
		if _, err := a.stdout.Write(out.Bytes()); err != nil {
			return invalidInput(err)
		}
		return nil
	}
	if err := os.WriteFile(outPath, out.Bytes(), 0o644); err != nil {
		return invalidInput(err)
	}
	return nil
}

// flightFormatFlag is --flight-format: ndjson or binary (driver.FlightFormat).
type flightFormatFlag struct{ f *driver.FlightFormat }

func (v flightFormatFlag) String() string {
	if v.f == nil {
		return driver.FlightNDJSON.String()
	}
	return v.f.String()
}

func (v flightFormatFlag) Set(s string) error {
	f, err := driver.ParseFlightFormat(s)
	if err != nil {
		return fmt.Errorf("%v", err)
	}
	*v.f = f
	return nil
}

func (flightFormatFlag) Type() string { return "format" }
