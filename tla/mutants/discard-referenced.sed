# R40: retention ignores references
# config: MCRegionalCheckpointB
# expect: RetentionSafety NoLeak
s|    \\/ \\E k \\in Store(t) : id \\in Range(t\.known\[k\]\.refs)|    \\/ \\E k \\in Store(t) : id = k|
