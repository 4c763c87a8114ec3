# R22b: drop the max_failure_ratio condition of the gate
# config: MCRatio
# expect: RegionalGate
\|        /\\ Cardinality(F) \* RatioDen <= RatioNum \* active     \\\* the ratio holds|d
