# R18/R19: a failed region keeps what it acked
# config: MCTier
# expect: NoOrphanState
s|    ELSE \[p EXCEPT !\.failed = @ \\cup {r}, !\.acked = @ \\ {r},|    ELSE [p EXCEPT !.failed = @ \\cup {r}, !.acked = @,|
