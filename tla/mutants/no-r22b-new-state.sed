# R22b: drop "some region has new state" (every region failed is refused)
# config: MCTier
# expect: RegionalGate
\|        /\\ Cardinality(F) < active               \\\* b: some region has new state, and|d
