//go:build !ckpt_mutants

package main

import "errors"

func enableMutant(name string) error {
	if name == "" {
		return nil
	}
	return errors.New("-mutant needs a build with -tags ckpt_mutants")
}
