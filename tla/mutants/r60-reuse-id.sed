# R60 (before the amendment): an earlier request id is accepted again
# config: MCConfig
# expect: RequestIdsOnce
s|        ok == /\\ q > s\.lastReq|        ok == /\\ TRUE|
