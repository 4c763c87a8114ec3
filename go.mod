module github.com/ckptcore/ckptcore

go 1.26
