package main

import "go.uber.org/zap"

// quietLogger keeps etcd's client library from logging its retries to the
// soak's output: the soak reports what it observed itself.
func quietLogger() *zap.Logger { return zap.NewNop() }
