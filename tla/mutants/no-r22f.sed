# R22f: drop max_ref_age
# config: MCRegionalCheckpointB
# expect: RegionalGate
s|        /\\ MaxRefAge > 0 =>                                                   \\\* f|        /\\ TRUE|
\|              \\A r \\in F : id - t\.known\[Latest(t)\]\.refs\[r\] <= MaxRefAge|d
