# R50: the recovery keeps the counter instead of reading it back from the latest metadata
# config: MCRecover
# expect: ConsecutiveCount CounterRecovered
s|                         !\.consec = meta,|                         !.consec = @,|
