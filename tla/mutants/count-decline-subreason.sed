# R30: count the decline sub-reason task_not_ready
# config: MCRatio
# expect: FailureCount
s|CountedReasons == {"declined", "async_exception", "expired", "finalize_failed"}|CountedReasons == {"declined", "async_exception", "expired", "finalize_failed", "task_not_ready"}|
