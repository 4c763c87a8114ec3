# R30: count region_failover
# config: MCGlobal
# expect: FailureCount
s|CountedReasons == {"declined", "async_exception", "expired", "finalize_failed"}|CountedReasons == {"declined", "async_exception", "expired", "finalize_failed", "region_failover"}|
