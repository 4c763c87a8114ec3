// Package flinkapi speaks Apache Flink's checkpoint REST API and checkpoint
// metrics for the decision core: Flink's JSON shapes, field for field (from
// Flink's OpenAPI document, docs/static/generated/rest_v1_dispatcher.yml of
// Flink 1.19, and recorded Flink responses), a Tracker that builds Flink's
// checkpoint statistics (Flink's CheckpointStatsTracker) from the core's events
// and effects, and a Prometheus collector with the metric names of Flink's
// Prometheus reporter.
//
// The Tracker is fed one step at a time (Observe) by whoever steps the core: the
// driver on its event loop, or a replay of a history. It keeps what Flink's
// tracker keeps: counts, a summary over the last SummaryWindow completed
// checkpoints (min, max, average and percentiles, estimated as Flink's
// commons-math histogram does), the latest completed, savepoint, failed and
// restored checkpoints, and the last HistorySize checkpoints with per-subtask
// acknowledgements for the details endpoints.
//
// Flink's names and conventions hold on the wire: snake_case fields, "@class"
// discriminators, Long.MAX_VALUE for a disabled interval, times in Unix
// milliseconds, "NaN" for a percentile of no values. What FLIP-600 (regional
// checkpoints) and FLIP-571 (dynamic configuration) add are extra snake_case
// fields that Flink's clients ignore (kind, mode, refs, consecutive on a
// completed checkpoint; overrides_active, regional_* on the configuration).
package flinkapi
