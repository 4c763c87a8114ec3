# R25 (before the amendment): any checkpoint ends the forcing after all sources finished
# config: MCFinish
# expect: SourcesForcing
s|EndsSourcesForcing(t, c, p) == t\.forceNext /\\ p\.kind = "checkpoint" /\\ c >= t\.forceFrom|EndsSourcesForcing(t, c, p) == t.forceNext /\\ p.kind = "checkpoint"|
