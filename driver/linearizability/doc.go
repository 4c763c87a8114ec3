// Package linearizability holds the porcupine models of the driver's REST
// client API (FLIP-571) and the recorder that turns concurrent client calls
// into a porcupine history: the configuration register (R60, R63, R50,
// I-ConfigAtomic, I-DurableOverrides) and checkpoint progress (the latest
// completed checkpoint and its per-region references never go back).
//
// It lives next to what it checks, not in the history codec: the driver's
// robustness test (driver/robustness_test.go) records its clients with
// ClientRecorder and checks the result with CheckClientHistory. No runtime
// package imports it, so the ckpt binary does not link porcupine.
package linearizability
