# R25 tier 2: a forced-global checkpoint that ends without completing leaves the counter
# config: MCTier
# expect: TierTwoReset ConsecutiveCount
\|                        !\.consec = IF p\.forced THEN 0 ELSE @,|d
