# R24 (before the amendment): a stop-with-savepoint does not stop the scheduler
# config: MCSavepoint
# expect: SwsStopsScheduler
s|         /\\ s' = LET t == StopScheduler(S0) IN IF TriggerPreT(t, k) THEN TriggerStep(t, k) ELSE t|         /\\ s' = LET t == S0 IN IF TriggerPreT(t, k) THEN TriggerStep(t, k) ELSE t|
