# R25 tier 1: a regional completion does not add one to the counter
# config: MCTier
# expect: ConsecutiveCount
s|                               !\.consec = IF reg THEN t\.consec + 1|                               !.consec = IF reg THEN t.consec|
