module github.com/ckptcore/ckptcore

go 1.26

require (
	github.com/anishathalye/porcupine v1.3.1
	pgregory.net/rapid v1.3.0
)

require github.com/google/go-cmp v0.7.0
