# R22e: drop "every coordinator of a failed region supports fallback"
# config: MCRegionalCheckpointB
# expect: RegionalGate
\|        /\\ F \\cap NoFallback = {}                                             \\\* e|d
