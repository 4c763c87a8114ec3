module github.com/ckptcore/ckptcore

go 1.26

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	pgregory.net/rapid v1.3.0
)

require github.com/google/go-cmp v0.7.0

require github.com/inconshreveable/mousetrap v1.1.0 // indirect
