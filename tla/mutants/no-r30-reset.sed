# R30: a completion does not reset the failure count
# config: MCTier
# expect: FailureCount FailureAccounting
s|                         !\.failures = IF c > t2\.lastSucc THEN 0 ELSE @,|                         !.failures = @,|
