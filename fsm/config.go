package fsm

import "fmt"

// Config is the checkpoint configuration of SEMANTICS §2. The zero value is not
// valid; start from DefaultConfig.
type Config struct {
	IntervalMs        int64 // execution.checkpointing.interval; 0 = no periodic checkpoints
	TimeoutMs         int64 // execution.checkpointing.timeout
	MinPauseMs        int64 // execution.checkpointing.min-pause
	MaxConcurrent     int   // execution.checkpointing.max-concurrent-checkpoints
	TolerableFailures int   // execution.checkpointing.tolerable-failed-checkpoints
	Retained          int   // execution.checkpointing.num-retained
	Regional          RegionalConfig
	MaxTimeoutMs      int64 // FLIP-571 guardrail; 0 = no bound
}

// RegionalConfig is the FLIP-600 part of the configuration.
type RegionalConfig struct {
	Enabled         bool    // execution.checkpointing.region.enabled
	MaxFailureRatio float64 // execution.checkpointing.region.max-failure-ratio
	MaxConsecutive  int     // execution.checkpointing.region.max-consecutive-failures
	MaxRefAge       int64   // regional.max_ref_age; 0 = no bound
}

// Bounds of §2.
const (
	MinIntervalMs = 10
	MinTimeoutMs  = 10
	MaxMinPauseMs = 365 * 24 * 3600 * 1000
)

// DefaultConfig returns the defaults of SEMANTICS §2.
func DefaultConfig() Config {
	return Config{
		TimeoutMs:     600000,
		MaxConcurrent: 1,
		Retained:      1,
		Regional:      RegionalConfig{MaxFailureRatio: 0.3, MaxConsecutive: 2},
	}
}

// ConfigError is an invalid configuration value: the history key, the value and
// the rule it breaks.
type ConfigError struct {
	Key   string
	Value any
	Rule  string
}

func (e *ConfigError) Error() string {
	return e.cite("§2")
}

// cite renders the error with the rules it breaks, in the spec the project
// ships (docs/spec/SEMANTICS.md).
func (e *ConfigError) cite(rules string) string {
	return fmt.Sprintf("config: %s = %v: %s (docs/spec/SEMANTICS.md %s)", e.Key, e.Value, e.Rule, rules)
}

// Validate checks every key against §2; the error is a *ConfigError naming the
// first bad key.
func (c Config) Validate() error {
	if err := validInterval(c.IntervalMs); err != nil {
		return err
	}
	if err := validTimeout(c.TimeoutMs, 0); err != nil {
		return err
	}
	switch {
	case c.MaxTimeoutMs < 0 || c.MaxTimeoutMs > MaxDurationMs:
		return &ConfigError{"max_timeout_ms", c.MaxTimeoutMs, "must be 0 (no bound) or a duration below 2^53"}
	case c.MinPauseMs < 0 || c.MinPauseMs > MaxMinPauseMs:
		return &ConfigError{"min_pause_ms", c.MinPauseMs, "must be between 0 and 1 year (31536000000)"}
	case c.MaxConcurrent < 1:
		return &ConfigError{"max_concurrent", c.MaxConcurrent, "must be >= 1"}
	case c.TolerableFailures < 0:
		return &ConfigError{"tolerable_failures", c.TolerableFailures, "must be >= 0"}
	case c.Retained < 1:
		return &ConfigError{"retained", c.Retained, "must be >= 1"}
	case !(c.Regional.MaxFailureRatio >= 0 && c.Regional.MaxFailureRatio <= 1):
		return &ConfigError{"regional.max_failure_ratio", c.Regional.MaxFailureRatio, "must be between 0 and 1"}
	case c.Regional.MaxConsecutive < 0:
		return &ConfigError{"regional.max_consecutive", c.Regional.MaxConsecutive, "must be >= 0"}
	case c.Regional.MaxRefAge < 0:
		return &ConfigError{"regional.max_ref_age", c.Regional.MaxRefAge, "must be >= 0 (0 = no bound)"}
	case c.MaxTimeoutMs != 0 && c.MaxTimeoutMs < c.TimeoutMs:
		return &ConfigError{"max_timeout_ms", c.MaxTimeoutMs, fmt.Sprintf("must be 0 or >= timeout_ms (%d)", c.TimeoutMs)}
	}
	return nil
}

// MaxSafeInt bounds every id, request id, time and duration of the core:
// 2^53 − 1, the largest integer JSON readers in every language keep exact
// (HISTORY.md). Ids above it are never allocated (R14, ids_exhausted), and
// time + duration never overflows. It is the one definition of the bound;
// decoders and runtimes use it rather than their own copy.
const MaxSafeInt = 1<<53 - 1

// MaxDurationMs bounds intervals and timeouts (§2): MaxSafeInt.
const MaxDurationMs = MaxSafeInt

func validInterval(v int64) error {
	if v != 0 && v < MinIntervalMs {
		return &ConfigError{"interval_ms", v, "must be 0 (no periodic checkpoints) or >= 10"}
	}
	if v > MaxDurationMs {
		return &ConfigError{"interval_ms", v, "must be below 2^53"}
	}
	return nil
}

func validTimeout(v, max int64) error {
	if v < MinTimeoutMs {
		return &ConfigError{"timeout_ms", v, "must be >= 10"}
	}
	if v > MaxDurationMs {
		return &ConfigError{"timeout_ms", v, "must be below 2^53"}
	}
	if max > 0 && v > max {
		return &ConfigError{"timeout_ms", v, fmt.Sprintf("must be <= max_timeout_ms (%d)", max)}
	}
	return nil
}

// basePeriod is Flink's baseInterval: max(interval, min_pause) (R11).
func basePeriod(interval, minPause int64) int64 {
	if interval == 0 {
		return 0
	}
	return max(interval, minPause)
}

// EffectiveConfig is the configuration in force: defaults plus confirmed
// overrides (R63).
type EffectiveConfig struct {
	IntervalMs      int64
	TimeoutMs       int64
	OverridesActive bool
}
