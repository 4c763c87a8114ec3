# R22d: drop "a failed region has state to fall back to"
# config: MCTier
# expect: RegionalGate RegionConsistency
\|        /\\ Latest(t) # 0                                                      \\\* d|d
