------------------------- MODULE RegionalCheckpoint -------------------------
(***************************************************************************)
(* The decision core of a checkpoint coordinator with regional checkpoints *)
(* (FLIP-600) and dynamic checkpoint configuration (FLIP-571), at the      *)
(* level of pipelined regions.  The contract is docs/spec/SEMANTICS.md:   *)
(* rule numbers R.. and invariant names I-.. below refer to it.            *)
(*                                                                         *)
(* Abstractions (what this spec leaves out, on purpose):                   *)
(*  - Subtasks.  A region acks when its last subtask acks; a region is     *)
(*    "down" while any of its subtasks restarts (R13, R19).  Every         *)
(*    unfinished subtask of a region that is up at trigger time gets the   *)
(*    trigger, so a region-level ack is exact.  TraceRegionalCheckpoint    *)
(*    refines this back to subtasks.                                       *)
(*  - Time.  Expire(c) may happen at any moment until c is ready; a       *)
(*    trigger may happen whenever the decider has a free slot.  Timeouts   *)
(*    and intervals are opaque values (integers) carried by the config;    *)
(*    every pending checkpoint records the timeout its deadline is based   *)
(*    on, so that R61 and I-ConfigAtomic are visible.  The trace module    *)
(*    adds the clock, deadlines and the periodic/queued decider (R10-R12). *)
(*  - Finished subtasks: a region is in s.fin once all its subtasks have   *)
(*    finished; TaskFinished says at region level what one subtask's       *)
(*    finish changes (which checkpoints stop waiting for the region, R20;  *)
(*    whether the region comes up, whether it was the last source, R25).   *)
(*    The trace module computes those arguments; model checking leaves     *)
(*    finishing out (Finishing = FALSE) to keep the state space small.     *)
(*  - Notices at region level: notify_complete carries the checkpoint's    *)
(*    refs, notify_aborted the latest completed id, warn its code; the     *)
(*    trace module refines them to subtasks and adds what is subtask- or   *)
(*    vertex-level (trigger tasks and deadline, coordinator_fallback,      *)
(*    region_skipped, discard_late_state, trigger_failed).                 *)
(*                                                                         *)
(* The whole core state is one record variable  s  because one event       *)
(* cascades (an abort can fail the job, which aborts every pending         *)
(* checkpoint, whose retention run discards ...): the cascades are written *)
(* as operators from state to state, in the order the Go core does them,   *)
(* and every action is  s' = F(s).  s.fx is the list of (region-level)     *)
(* effects of the last step, in order, like the Go core's Step result.     *)
(***************************************************************************)
EXTENDS Naturals, Integers, FiniteSets, Sequences, TLC

CONSTANTS
    Regions,         \* the pipelined regions (R3)
    MaxId,           \* checkpoint ids are 1..MaxId (bounds the model)
    Retained,        \* retained (R40)
    MaxConcurrent,   \* max_concurrent (R12)
    Tolerable,       \* tolerable_failures (R30)
    MaxConsecutive,  \* regional.max_consecutive (R25)
    MaxRefAge,       \* regional.max_ref_age, 0 = no bound (R22f)
    RegionalMode,    \* R4 holds and regional.enabled
    RatioNum,        \* regional.max_failure_ratio = RatioNum / RatioDen (R22b)
    RatioDen,
    NoFallback,      \* regions with a coordinator that cannot fall back (R22e)
    DefaultInterval, \* interval_ms and timeout_ms of the base configuration
    DefaultTimeout,
    MaxTimeout,      \* max_timeout_ms, 0 = no bound (R60)
    Finishing,       \* whether Next includes TaskFinished (and failures of finished subtasks)
    Recovering,      \* whether Next includes Recover (coordinator failovers, R50)
    Restore,         \* [id |-> 0] for a fresh start, else the restored snapshot
                     \* [id |-> n, claim |-> BOOLEAN, refs |-> [Regions -> 1..n]] (R41)
    \* Only Next (model checking) uses these: the values the environment may send.
    Kinds,           \* subset of {"checkpoint", "savepoint", "stop_with_savepoint"}
    DeclineReasons,  \* subset of the decline reasons of HISTORY.md
    Requests,        \* config_patch request ids
    Intervals,       \* interval_ms values a patch may carry
    Timeouts         \* timeout_ms values a patch may carry

ASSUME /\ Retained >= 1 /\ MaxConcurrent >= 1 /\ Tolerable >= 0
       /\ MaxConsecutive >= 0 /\ MaxRefAge >= 0 /\ RegionalMode \in BOOLEAN
       /\ RatioDen > 0 /\ 0 <= RatioNum /\ RatioNum <= RatioDen
       /\ NoFallback \subseteq Regions /\ Finishing \in BOOLEAN /\ Recovering \in BOOLEAN

VARIABLE s

Ids == 1..MaxId
None == -2147483647              \* a field missing from a config patch
Max(a, b) == IF a >= b THEN a ELSE b
MinOf(S) == CHOOSE x \in S : \A y \in S : x <= y
MaxOf(S) == CHOOSE x \in S : \A y \in S : x >= y
Range(f) == {f[x] : x \in DOMAIN f}
Drop(f, k) == [x \in DOMAIN f \ {k} |-> f[x]]
RECURSIVE Ascending(_)
Ascending(S) == IF S = {} THEN <<>> ELSE <<MinOf(S)>> \o Ascending(S \ {MinOf(S)})

\* R30: the counted reasons; a savepoint's job-level failures are never counted.
CountedReasons == {"declined", "async_exception", "expired", "finalize_failed"}
JobLevelReasons == {"expired", "finalize_failed"}

ValidInterval(v) == v = 0 \/ v >= 10                                    \* §2
ValidTimeout(v) == v >= 10 /\ (MaxTimeout = 0 \/ v <= MaxTimeout)       \* §2, R60

-----------------------------------------------------------------------------
(* Effects, as the history's effect objects with the fields that carry a   *)
(* decision (HISTORY.md "Effects").                                        *)
FxTrigger(c, k, f) == [type |-> "trigger", checkpoint |-> c, kind |-> k, forced |-> f]
FxAbort(c, why, n) == [type |-> "abort", checkpoint |-> c, reason |-> why, counted |-> n]
FxSeal(t, c, p) == [type |-> t, checkpoint |-> c, kind |-> p.kind, mode |-> p.mode,
                    refs |-> p.refs, consecutive |-> p.consec]      \* persist, completed
FxDiscard(c) == [type |-> "discard", checkpoint |-> c]
FxFailJob(why) == [type |-> "fail_job", reason |-> why]
FxFinishJob == [type |-> "finish_job"]
FxNotifyComplete(c, refs) == [type |-> "notify_complete", checkpoint |-> c, refs |-> refs]
FxNotifyAborted(c, l) == [type |-> "notify_aborted", checkpoint |-> c, latest |-> l]
FxWarn(code, c) == [type |-> "warn", code |-> code, checkpoint |-> c]
FxConfig(t, q, iv, to) == [type |-> t, request |-> q, interval |-> iv, timeout |-> to]
FxRejected(q) == [type |-> "config_rejected", request |-> q]

-----------------------------------------------------------------------------
(* Derived views of a state t.                                             *)
Store(t) == {k \in DOMAIN t.known : t.known[k].inStore}
Latest(t) == IF Store(t) = {} THEN 0 ELSE MaxOf(Store(t))          \* R21, R22d
Forcing(t) == RegionalMode /\ (t.consec >= MaxConsecutive \/ t.forceNext)   \* R25
\* R25 as amended: the forcing that all sources finishing started ends only
\* with a checkpoint triggered after they finished (id >= forceFrom).
EndsSourcesForcing(t, c, p) == t.forceNext /\ p.kind = "checkpoint" /\ c >= t.forceFrom
Active(t) == Cardinality(Regions \ t.fin)       \* regions with an unfinished subtask

\* The counter a log gives (R25 as amended, R50): what ConsecutiveCount
\* recomputes from s.log alone, never from t.consec. A regional completion's
\* count is the one its persist was sealed with (`sealed`: the log's count at
\* that moment plus one), so a tier-2 reset while it persisted is superseded
\* by its completion (docs/DECISIONS.md#reset-while-persisting, TLA finding 8);
\* a subsumed forced checkpoint is no failure of forcing: the completion that
\* subsumed it sets the counter (docs/DECISIONS.md#subsumed-forced).
LogStep(v, e) == CASE e.ev = "recover" -> e.consec
                   [] e.ev = "completed" /\ e.kind = "checkpoint" -> IF e.mode = "regional" THEN e.sealed ELSE 0
                   [] e.ev = "aborted" /\ e.forced /\ e.reason # "subsumed" -> 0
                   [] OTHER -> v
RECURSIVE LogCount(_, _, _)
LogCount(L, i, v) == IF i > Len(L) THEN v ELSE LogCount(L, i + 1, LogStep(v, L[i]))
RegionalPath(t, kind) == RegionalMode /\ kind = "checkpoint" /\ ~Forcing(t)
Waiting(p) == Regions \ (p.acked \cup p.failed)
\* Every needed ack is in but another checkpoint holds the persist slot: one
\* checkpoint persists at a time (R23, as Flink finalizes under its lock), and a
\* ready checkpoint no longer has a deadline.
Ready(p) == ~p.persisting /\ Waiting(p) = {}
AnyPersisting(t) == \E c \in DOMAIN t.pending : t.pending[c].persisting
\* ov is {} (no override was ever confirmed) or {the confirmed overrides}
EffOf(ov) == IF ov = {} THEN [interval |-> DefaultInterval, timeout |-> DefaultTimeout]
             ELSE CHOOSE x \in ov : TRUE

\* R22 b-f, in order, for checkpoint id with failed regions F (R22a is the
\* caller's: only regional-path checkpoints get here); active is the number of
\* regions not finished at trigger (R22b's denominator).
Gate(t, id, forced, F, active) ==
    /\ RegionalMode
    /\ F # {} =>
        /\ Cardinality(F) < active               \* b: some region has new state, and
        /\ Cardinality(F) * RatioDen <= RatioNum * active     \* the ratio holds
        /\ ~forced /\ t.consec < MaxConsecutive                               \* c
        /\ Latest(t) # 0                                                      \* d
        /\ F \cap NoFallback = {}                                             \* e
        /\ MaxRefAge > 0 =>                                                   \* f
              \A r \in F : id - t.known[Latest(t)].refs[r] <= MaxRefAge

\* R40: alive = retained, or referenced by a retained or persisting checkpoint.
Alive(t, id) ==
    \/ \E k \in Store(t) : id \in Range(t.known[k].refs)
    \/ \E c \in DOMAIN t.pending : t.pending[c].persisting /\ id \in Range(t.pending[c].refs)

-----------------------------------------------------------------------------
(* State transformers, in the order of the Go core's cascades.             *)

\* R40: discard, in id order and once, every known checkpoint that is neither
\* retained nor referenced; a no_claim snapshot is forgotten without a discard.
Retain(t) ==
    LET dead == {k \in DOMAIN t.known : ~t.known[k].inStore /\ ~Alive(t, k)}
        gone == {k \in dead : t.known[k].owned}
        ds == Ascending(gone)
    IN [t EXCEPT !.known = [k \in DOMAIN t.known \ dead |-> t.known[k]],
                 !.discarded = @ \cup gone,
                 !.fx = @ \o [i \in 1..Len(ds) |-> FxDiscard(ds[i])]]

\* R40: add completed checkpoint c, keep the Retained latest in the store.
StoreAdd(t, c, rec) ==
    LET k1 == t.known @@ (c :> rec)
        st == {k \in DOMAIN k1 : k1[k].inStore}
        keep == {k \in st : Cardinality({j \in st : j > k}) < Retained}
    IN Retain([t EXCEPT !.known = [k \in DOMAIN k1 |-> [k1[k] EXCEPT !.inStore = @ /\ k \in keep]],
                        !.storeSeq = Append(@, c)])

MarkFailed(p, r, why) ==                                    \* R18, R19
    IF r \in p.failed THEN p
    ELSE [p EXCEPT !.failed = @ \cup {r}, !.acked = @ \ {r},
                   !.cause = IF @ = "none" THEN why ELSE @]

RECURSIVE Abort(_, _, _), EndAll(_, _), FailJob(_, _), FinishJob(_), SealNext(_), Decide(_, _)

\* Ends pending checkpoint c without completion (R17, R18, R23-R25, R30).
Abort(t, c, why) ==
    LET p == t.pending[c]
        n == /\ why \in CountedReasons /\ p.kind # "stop_with_savepoint"     \* R30, R24
             /\ ~(p.kind = "savepoint" /\ why \in JobLevelReasons)
             /\ c > t.lastSucc /\ c \notin t.countedIds
        \* R26: the subtasks are told, with the latest completed id (the
        \* completing checkpoint while it subsumes), except after a coordinator
        \* failover and once the job has ended.
        notify == IF why # "recovered" /\ t.job = "running"
                  THEN <<FxNotifyAborted(c, IF t.completing # 0 THEN t.completing ELSE Latest(t))>>
                  ELSE <<>>
        t1 == [t EXCEPT !.pending = Drop(@, c),
                        !.failures = IF n THEN @ + 1 ELSE @,
                        !.countedIds = IF n THEN @ \cup {c} ELSE @,
                        !.fx = @ \o <<FxAbort(c, why, n)>> \o notify,
                        !.done = @ @@ (c :> [outcome |-> "aborted", kind |-> p.kind, reason |-> why,
                                              forced |-> p.forced]),
                        !.log = Append(@, [ev |-> "aborted", id |-> c, kind |-> p.kind, reason |-> why,
                                           forced |-> p.forced]),
                        \* R25 tier 2: a forced-global checkpoint that ends resets the counter.
                        !.consec = IF p.forced THEN 0 ELSE @,
                        !.forceNext = IF p.forced /\ EndsSourcesForcing(t, c, p) THEN FALSE ELSE @]
        t2 == IF p.persisting /\ \E r \in Regions : p.refs[r] # c THEN Retain(t1) ELSE t1
        t3 == IF t2.job # "running" THEN t2
              ELSE IF p.kind = "stop_with_savepoint" /\ why # "recovered"
                   THEN FailJob(t2, "stop_with_savepoint_failed")            \* R24
              ELSE IF n /\ t2.failures > Tolerable                           \* R30
                   THEN FailJob([t2 EXCEPT !.failures = 0, !.countedIds = {},
                                           !.failedWith = t2.failures], "tolerable_failures_exceeded")
              ELSE t2
    IN IF p.persisting THEN SealNext(t3) ELSE t3       \* the persist slot is free

EndAll(t, why) ==
    IF DOMAIN t.pending = {} THEN t ELSE EndAll(Abort(t, MinOf(DOMAIN t.pending), why), why)

FailJob(t, why) ==
    IF t.job # "running" THEN t
    ELSE EndAll([t EXCEPT !.job = "failed", !.fx = Append(@, FxFailJob(why)),
                          !.log = Append(@, [ev |-> "fail_job", reason |-> why])], "coordinator_suspend")

FinishJob(t) ==
    IF t.job # "running" THEN t
    ELSE EndAll([t EXCEPT !.job = "finished", !.fx = Append(@, FxFinishJob)], "coordinator_shutdown")

\* R21-R23: seal a checkpoint that has every ack it needs.
StartPersist(t, c) ==
    LET p == t.pending[c]
        reg == p.regional /\ p.failed # {}
    IN IF reg /\ ~Gate(t, c, p.forced, p.failed, p.active) THEN Abort(t, c, p.cause)
       ELSE LET l == Latest(t)
                \* (0 if there were nothing to fall back to: only a gate without R22d gets there)
                refs == [r \in Regions |-> IF reg /\ r \in p.failed
                                          THEN IF l \in DOMAIN t.known THEN t.known[l].refs[r] ELSE 0
                                          ELSE c]
                q == [p EXCEPT !.persisting = TRUE, !.refs = refs,
                               !.mode = IF reg THEN "regional" ELSE "global",
                               !.consec = IF reg THEN t.consec + 1
                                          ELSE IF p.kind = "checkpoint" THEN 0 ELSE t.consec,
                               \* ghost: the count the log gives now, plus one (ConsecutiveCount)
                               !.walk = IF reg THEN LogCount(t.log, 1, 0) + 1 ELSE 0]
            IN [t EXCEPT !.pending[c] = q, !.fx = Append(@, FxSeal("persist", c, q)),
                         !.persisted = @ \cup {c}]

\* R18: decide a checkpoint as soon as its outcome is certain; a ready one
\* persists when the slot is free and no failover is still being handled.
Decide(t, c) ==
    LET p == t.pending[c] IN
    IF p.persisting THEN t
    ELSE IF p.regional /\ p.failed # {} /\ ~Gate(t, c, p.forced, p.failed, p.active) THEN Abort(t, c, p.cause)
    ELSE IF Waiting(p) = {} /\ ~t.hold /\ ~AnyPersisting(t) THEN StartPersist(t, c)
    ELSE t

\* The persist slot is free: the lowest ready checkpoint gets it (or is aborted
\* by the gate, and the next one is tried).
SealNext(t) ==
    LET R == {c \in DOMAIN t.pending : Ready(t.pending[c])} IN
    IF t.job # "running" \/ t.hold \/ AnyPersisting(t) \/ R = {} THEN t
    ELSE SealNext(Decide(t, MinOf(R)))

\* §11: a reference older than max_consecutive + 1 ids is made visible.
DriftWarn(t, c, p) ==
    IF \E r \in Regions : p.refs[r] # c /\ c - p.refs[r] > MaxConsecutive + 1
    THEN [t EXCEPT !.fx = Append(@, FxWarn("ref_drift", c))] ELSE t

\* R41: while a retained checkpoint references a no_claim snapshot the user must
\* keep it (warned once); the first global completion ends that.
NoClaimMode == Restore.id # 0 /\ ~Restore.claim
NoClaimWarn(t, c, p) ==
    IF ~NoClaimMode \/ t.ncReleased THEN t
    ELSE IF p.mode = "global"
         THEN [t EXCEPT !.ncReleased = TRUE,
                        !.fx = IF t.ncWarned THEN Append(@, FxWarn("no_claim_released", c)) ELSE @]
    ELSE IF \E r \in Regions : p.refs[r] # c /\ p.refs[r] <= Restore.id
         THEN [t EXCEPT !.ncWarned = TRUE, !.fx = Append(@, FxWarn("no_claim_referenced", c))]
    ELSE t

RECURSIVE Subsume(_, _)
Subsume(t, c) ==                                                          \* R23
    LET lower == {q \in DOMAIN t.pending : q < c /\ t.pending[q].kind = "checkpoint"}
    IN IF lower = {} THEN t ELSE Subsume(Abort(t, MinOf(lower), "subsumed"), c)

\* R23-R26, R30, R40: the metadata of c is durable.  c stays pending while it
\* subsumes lower checkpoints, so that its references stay alive through their
\* retention runs.
Complete(t, c) ==
    LET p == t.pending[c]
        self == {r \in Regions : p.refs[r] = c}
        t1 == [t EXCEPT !.fx = Append(@, FxSeal("completed", c, p)),
                        !.done = @ @@ (c :> [outcome |-> "completed", kind |-> p.kind, mode |-> p.mode,
                                              refs |-> p.refs, forced |-> p.forced]),
                        !.healthy = @ \cup {<<c, r>> : r \in self},
                        !.completing = IF p.kind = "checkpoint" THEN c ELSE 0]
        t2 == IF p.kind # "savepoint" THEN Subsume(t1, c) ELSE t1
        t3 == [t2 EXCEPT !.pending = Drop(@, c),
                         !.completing = 0,
                         !.lastSucc = Max(@, c),
                         !.failures = IF c > t2.lastSucc THEN 0 ELSE @,
                         !.countedIds = IF c > t2.lastSucc THEN {} ELSE @,
                         \* R26: Flink notifies checkpoints and synchronous savepoints only
                         !.fx = IF p.kind # "savepoint" THEN Append(@, FxNotifyComplete(c, p.refs)) ELSE @,
                         !.log = Append(@, [ev |-> "completed", id |-> c, kind |-> p.kind, mode |-> p.mode,
                                            sealed |-> p.walk])]
        t4 == IF p.kind = "checkpoint"
              THEN NoClaimWarn(DriftWarn(
                     StoreAdd([t3 EXCEPT !.consec = p.consec,
                                         !.forceNext = IF EndsSourcesForcing(t3, c, p) THEN FALSE ELSE @],
                              c, [refs |-> p.refs, inStore |-> TRUE, owned |-> TRUE,
                                  consec |-> p.consec, mode |-> p.mode]), c, p), c, p)
              ELSE t3
        t5 == IF p.kind = "stop_with_savepoint" THEN FinishJob(t4) ELSE t4   \* R24
    IN SealNext(t5)

RECURSIVE FailLoop(_, _, _)
\* R17-R19: region r failed over; the pending checkpoints react in id order.
FailLoop(t, r, ids) ==
    IF ids = <<>> THEN t
    ELSE LET c == Head(ids)
             t1 == IF c \notin DOMAIN t.pending THEN t
                   ELSE LET p == t.pending[c] IN
                        IF p.persisting /\ p.refs[r] = c THEN Abort(t, c, "region_failover")
                        ELSE IF p.persisting THEN t
                        ELSE IF ~p.regional THEN Abort(t, c, "region_failover")
                        ELSE Decide([t EXCEPT !.pending[c] = MarkFailed(@, r, "region_failover")], c)
         IN FailLoop(t1, r, Tail(ids))

-----------------------------------------------------------------------------
(* Initial state: the job has just started (the start event), fresh or     *)
(* from the Restore snapshot (R14, R41).                                   *)
RestoreIds == IF Restore.id = 0 THEN {} ELSE {Restore.id} \cup Range(Restore.refs)
NoClaimIds == IF Restore.id = 0 \/ Restore.claim THEN {} ELSE RestoreIds

InitKnown ==
    [k \in RestoreIds |->
        IF k = Restore.id
        THEN [refs |-> Restore.refs, inStore |-> TRUE, owned |-> Restore.claim, consec |-> 0,
              mode |-> IF \E r \in Regions : Restore.refs[r] # k THEN "regional" ELSE "global"]
        ELSE [refs |-> [r \in Regions |-> k], inStore |-> FALSE, owned |-> Restore.claim,
              consec |-> 0, mode |-> "global"]]

InitState ==
    [job |-> "running", down |-> {}, fin |-> {}, srcFin |-> FALSE, forceNext |-> FALSE, forceFrom |-> 0,
     nextId |-> Restore.id + 1, lastReq |-> 0, completing |-> 0, ncWarned |-> FALSE, ncReleased |-> FALSE,
     pending |-> [c \in {} |-> 0], known |-> InitKnown,
     consec |-> 0, failures |-> 0, countedIds |-> {}, lastSucc |-> Restore.id,
     cfg |-> EffOf({}), ovr |-> {}, patches |-> <<>>,
     \* history (ghost) fields, read only by the invariants
     triggered |-> [c \in {} |-> 0], done |-> [c \in {} |-> 0], persisted |-> {},
     discarded |-> {}, healthy |-> {}, fo |-> [c \in {} |-> {}], storeSeq |-> <<>>,
     failedWith |-> 0, hold |-> FALSE, accepted |-> {}, fx |-> <<>>,
     \* log: how each checkpoint ended, and job failures, in order since the
     \* start or the last recovery (which leaves one entry with the counter
     \* the latest completed checkpoint's metadata holds); the invariants of
     \* R25, R30 and R50 recompute the counters from it
     log |-> <<>>,
     \* reqs: each accepted patch's request id, with the highest id used before it
     \* (since the start or the last recovery)
     reqs |-> <<>>]

Init == s = InitState

-----------------------------------------------------------------------------
(* Actions, one per event of HISTORY.md (Expire is the deadline, R10).     *)
(* Each starts from s with the previous step's effects cleared.            *)
S0 == [s EXCEPT !.fx = <<>>]

TriggerPreT(t, k) ==                                               \* R12, R13
    /\ t.job = "running"
    /\ t.nextId \in Ids
    /\ k = "checkpoint" => Cardinality(DOMAIN t.pending) < MaxConcurrent
    /\ t.down # {} => RegionalPath(t, k) /\ Gate(t, t.nextId, FALSE, t.down, Active(t))
TriggerPre(k) == TriggerPreT(s, k)

TriggerStep(t, k) ==                                              \* R13-R15
    LET id == t.nextId
        forced == k = "checkpoint" /\ Forcing(t)
        p == [kind |-> k, forced |-> forced, regional |-> RegionalPath(t, k),
              acked |-> t.fin, failed |-> t.down, active |-> Active(t),
              cause |-> IF t.down # {} THEN "region_failover" ELSE "none",
              persisting |-> FALSE, refs |-> [r \in Regions |-> id], mode |-> "none",
              consec |-> 0, walk |-> 0, timeout |-> t.cfg.timeout]
    IN Decide([t EXCEPT !.nextId = id + 1, !.pending = @ @@ (id :> p),
                        !.fx = Append(@, FxTrigger(id, k, forced)),
                        !.triggered = @ @@ (id :> [kind |-> k, forced |-> forced]),
                        !.fo = @ @@ (id :> {})], id)

\* R24 as amended: a stop-with-savepoint request first stops the checkpoint
\* scheduler: every pending checkpoint ends with coordinator_suspend (not
\* counted), no persist slot is handed on meanwhile; then the savepoint is
\* triggered if R13 allows it (the queued requests are the trace module's).
StopScheduler(t) == [EndAll([t EXCEPT !.hold = TRUE], "coordinator_suspend") EXCEPT !.hold = FALSE]

Trigger(k) ==
    IF k = "stop_with_savepoint"
    THEN /\ s.job = "running"
         /\ s' = LET t == StopScheduler(S0) IN IF TriggerPreT(t, k) THEN TriggerStep(t, k) ELSE t
    ELSE TriggerPre(k) /\ s' = TriggerStep(S0, k)

Ack(c, r) ==                                                          \* R16
    /\ c \in DOMAIN s.pending
    /\ ~s.pending[c].persisting
    /\ r \in Waiting(s.pending[c])
    /\ s' = LET t == [S0 EXCEPT !.pending[c].acked = @ \cup {r}]
            IN IF Waiting(t.pending[c]) = {} THEN Decide(t, c) ELSE t

Decline(c, r, why) ==                                            \* R17, R18
    /\ c \in DOMAIN s.pending
    /\ ~s.pending[c].persisting
    /\ s' = IF ~s.pending[c].regional THEN Abort(S0, c, why)
            ELSE IF r \in s.pending[c].failed THEN S0
            ELSE Decide([S0 EXCEPT !.pending[c] = MarkFailed(@, r, why)], c)

\* src: the failed subtask had finished and is a source (it runs again).
TaskFailedX(r, src) ==                                           \* R17-R19
    LET t == [S0 EXCEPT !.down = @ \cup {r}, !.hold = TRUE, !.fin = @ \ {r},
                        !.srcFin = @ /\ ~src,
                        !.fo = [c \in DOMAIN @ |-> IF c \in DOMAIN s.pending THEN @[c] \cup {r}
                                                   ELSE @[c]]]
    IN s' = IF t.job # "running" THEN [t EXCEPT !.hold = FALSE]
            \* the failover reaches every pending checkpoint before the slot is handed on
            ELSE SealNext([FailLoop(t, r, Ascending(DOMAIN t.pending)) EXCEPT !.hold = FALSE])

TaskFailed(r) == TaskFailedX(r, FALSE)

RECURSIVE FinishLoop(_, _, _)
FinishLoop(t, r, ids) ==
    IF ids = <<>> THEN t
    ELSE LET c == Head(ids)
             t1 == IF c \notin DOMAIN t.pending \/ r \notin Waiting(t.pending[c]) THEN t
                   ELSE LET u == [t EXCEPT !.pending[c].acked = @ \cup {r}]
                        IN IF Waiting(u.pending[c]) = {} THEN Decide(u, c) ELSE u
         IN FinishLoop(t1, r, Tail(ids))

\* A subtask of region r finished (bounded input).  C: the checkpoints that stop
\* waiting for r (it was r's last waiting subtask for them, R20); done: r has
\* no unfinished subtask left; up: r has no restarting subtask left; last: it
\* was the last unfinished source, so the next checkpoint is forced global (R25).
TaskFinished(r, C, done, up, last) ==
    /\ C \subseteq DOMAIN s.pending
    /\ s' = LET t0 == [S0 EXCEPT !.fin = IF done THEN @ \cup {r} ELSE @,
                                 !.down = IF up THEN @ \ {r} ELSE @,
                                 !.srcFin = @ \/ last]
                \* R25: checkpoints are forced global until one triggered from now on resolves
                t1 == IF last /\ RegionalMode THEN [t0 EXCEPT !.forceNext = TRUE, !.forceFrom = t0.nextId]
                      ELSE t0
                t2 == FinishLoop(t1, r, Ascending(C))
            IN IF t0.job # "running" THEN t0
               ELSE IF t2.fin = Regions THEN FinishJob(t2) ELSE t2

\* Model checking: the arguments one subtask's finish can have (the trace
\* module computes them from the subtasks).  The region's last unfinished
\* subtask stops every checkpoint waiting for the region; a restarting region
\* is waited for by none; the last source finishes once until one restarts.
WaitingFor(r) == {c \in DOMAIN s.pending : ~s.pending[c].persisting /\ r \in Waiting(s.pending[c])}
FinishArgs(r, C, done, up, last) ==
    /\ r \notin s.fin
    /\ C \subseteq WaitingFor(r)
    /\ done => C = WaitingFor(r) /\ (r \notin s.down \/ up)
    /\ up => r \in s.down
    /\ last => ~s.srcFin

TaskRunning(r) ==                                                     \* R19
    /\ r \in s.down
    /\ s' = [S0 EXCEPT !.down = @ \ {r}]

Persisted(c) ==                                                       \* R23
    /\ c \in DOMAIN s.pending /\ s.pending[c].persisting
    /\ s' = Complete(S0, c)

PersistFailed(c) ==                                                   \* R23
    /\ c \in DOMAIN s.pending /\ s.pending[c].persisting
    /\ s' = Abort(S0, c, "finalize_failed")

Expire(c) ==                                                     \* R17, R18
    /\ c \in DOMAIN s.pending /\ ~s.pending[c].persisting /\ ~Ready(s.pending[c])
    /\ s' = IF ~s.pending[c].regional THEN Abort(S0, c, "expired")
            ELSE LET p == s.pending[c]
                     q == [p EXCEPT !.failed = @ \cup Waiting(p),
                                    !.cause = IF @ = "none" THEN "expired" ELSE @]
                 IN Decide([S0 EXCEPT !.pending[c] = q], c)

ConfigPatch(q, iv, to) ==                                        \* R60, R63
    LET n == Len(s.patches)
        base == IF n > 0 THEN s.patches[n] ELSE [req |-> 0] @@ s.cfg
        \* R60 as amended: a request id is used once, in increasing order (a
        \* rejected patch uses its id too); the ids restart after R50
        ok == /\ q > s.lastReq
              /\ ~(iv = None /\ to = None)
              /\ iv # None => ValidInterval(iv)
              /\ to # None => ValidTimeout(to)
        next == [req |-> q, interval |-> IF iv = None THEN base.interval ELSE iv,
                 timeout |-> IF to = None THEN base.timeout ELSE to]
    IN s' = IF ok THEN [S0 EXCEPT !.patches = Append(@, next), !.lastReq = q, !.reqs = Append(@, [q |-> q, prior |-> s.lastReq]),
                                  !.accepted = @ \cup {[interval |-> next.interval, timeout |-> next.timeout]},
                                  !.fx = <<FxConfig("persist_overrides", q, next.interval, next.timeout)>>]
            ELSE [S0 EXCEPT !.fx = <<FxRejected(q)>>, !.lastReq = Max(@, q)]

\* R60-R63: the overrides of request q are durable: q and every earlier
\* accepted patch apply, both values in one step; pending checkpoints take the
\* new timeout at once (R61; the trace module expires those already late).
ConfigPersisted(q) ==
    \E k \in 1..Len(s.patches) :
        /\ s.patches[k].req = q
        /\ LET new == [interval |-> s.patches[k].interval, timeout |-> s.patches[k].timeout]
           IN s' = [S0 EXCEPT
                      !.fx = [i \in 1..k |-> FxConfig("config_applied", s.patches[i].req,
                                                      s.patches[i].interval, s.patches[i].timeout)],
                      !.patches = SubSeq(@, k + 1, Len(@)),
                      !.cfg = new, !.ovr = {new},
                      !.pending = [c \in DOMAIN @ |-> [@[c] EXCEPT !.timeout = new.timeout]]]

\* R50: coordinator failover.  Durable: known (the store with its metadata),
\* nextId, ovr.  Everything else is rebuilt from them or lost.
Recover ==
    \* hold: no checkpoint is handed the persist slot another one's abort frees
    \* (it would be sealed and dropped at once; fsm/recover.go).
    LET t1 == [EndAll([S0 EXCEPT !.hold = TRUE], "recovered") EXCEPT !.hold = FALSE]
        l == Latest(t1)
        meta == IF l = 0 THEN 0 ELSE t1.known[l].consec      \* the latest metadata's counter
        t2 == [t1 EXCEPT !.failures = 0, !.countedIds = {}, !.lastSucc = 0,
                         !.fx = @ \o [i \in 1..Len(t1.patches) |-> FxRejected(t1.patches[i].req)],
                         !.patches = <<>>, !.lastReq = 0, !.reqs = <<>>,
                         !.consec = meta,
                         !.cfg = EffOf(t1.ovr),
                         !.log = <<[ev |-> "recover", consec |-> meta]>>]
    IN s' = IF t2.job = "finished" THEN t2
            ELSE [t2 EXCEPT !.down = {}, !.job = "running",
                            !.forceNext = RegionalMode /\ t2.srcFin, !.forceFrom = t2.nextId]

Next ==
    \/ \E k \in Kinds : Trigger(k)
    \/ \E c \in DOMAIN s.pending, r \in Regions : Ack(c, r)
    \/ \E c \in DOMAIN s.pending, r \in Regions, why \in DeclineReasons : Decline(c, r, why)
    \/ \E r \in Regions : TaskFailed(r)
    \/ \E r \in Regions : TaskRunning(r)
    \/ Finishing /\ \E r \in Regions : TaskFailedX(r, TRUE)
    \/ Finishing /\ \E r \in Regions, C \in SUBSET DOMAIN s.pending, done, up, last \in BOOLEAN :
           FinishArgs(r, C, done, up, last) /\ TaskFinished(r, C, done, up, last)
    \/ \E c \in DOMAIN s.pending : Persisted(c) \/ PersistFailed(c) \/ Expire(c)
    \/ \E q \in Requests, iv \in Intervals \cup {None}, to \in Timeouts \cup {None} :
           ConfigPatch(q, iv, to)
    \/ \E q \in Requests : ConfigPersisted(q)
    \/ Recovering /\ Recover

Spec == Init /\ [][Next]_s

-----------------------------------------------------------------------------
(* Invariants of SEMANTICS §10, same names.                                *)

Completed == {c \in DOMAIN s.done : s.done[c].outcome = "completed"}
CompletedCkpts == {c \in Completed : s.done[c].kind = "checkpoint"}

TypeOK ==
    /\ s.job \in {"running", "failed", "finished"}
    /\ s.down \subseteq Regions /\ s.fin \subseteq Regions /\ s.down \cap s.fin = {}
    /\ DOMAIN s.pending \subseteq 1..(s.nextId - 1)
    /\ s.consec \in Nat /\ s.failures \in Nat

\* I-RegionConsistency: in every completed checkpoint every region references
\* one checkpoint id <= its own, in which that region completed healthy (or the
\* restored snapshot).
RegionConsistency ==
    /\ \A c \in CompletedCkpts, r \in Regions :
          LET x == s.done[c].refs[r] IN
          x <= c /\ (x = c \/ <<x, r>> \in s.healthy \/ x \in RestoreIds)
    /\ \A k \in Store(s), r \in Regions :
          LET x == s.known[k].refs[r] IN
          x <= k /\ (x = k \/ <<x, r>> \in s.healthy \/ x \in RestoreIds)
    /\ \A c \in Completed : (s.done[c].mode = "regional") <=> (\E r \in Regions : s.done[c].refs[r] # c)

\* I-NoOrphanState: no completed checkpoint holds state of a region that failed
\* over (to older state) while the checkpoint was pending (R19); no pending one
\* keeps such acks.
NoOrphanState ==
    /\ \A pr \in s.healthy : pr[2] \notin s.fo[pr[1]]
    /\ \A c \in DOMAIN s.pending :
          /\ s.pending[c].acked \cap s.fo[c] = {}
          /\ s.pending[c].persisting => \A r \in s.fo[c] : s.pending[c].refs[r] # c

\* I-ConsecutiveBound: 0 <= consecutive_regional <= max_consecutive; a
\* forced-global checkpoint never completes regionally.
ConsecutiveBound ==
    /\ RegionalMode => 0 <= s.consec /\ s.consec <= MaxConsecutive
    /\ ~RegionalMode => s.consec = 0
    /\ \A c \in Completed : s.done[c].forced => s.done[c].mode = "global"
    /\ \A c \in DOMAIN s.triggered : s.triggered[c].forced => s.triggered[c].kind = "checkpoint"

\* I-TierTwoReset: after a forced-global checkpoint ends without completing
\* (the last thing in the log that moves the counter), the counter is 0.
\* Stated on the log and the counter; that the forcing ends is R25's
\* SourcesForcing and the trigger's forced flag.
CounterEntry(e) == \/ e.ev = "recover"
                   \/ (e.ev = "completed" /\ e.kind = "checkpoint")
                   \/ (e.ev = "aborted" /\ e.forced)
RECURSIVE LastCounterIdx(_, _)
LastCounterIdx(L, i) == IF i = 0 THEN 0 ELSE IF CounterEntry(L[i]) THEN i ELSE LastCounterIdx(L, i - 1)
TierTwoReset ==
    LET i == LastCounterIdx(s.log, Len(s.log)) IN
    (i > 0 /\ s.log[i].ev = "aborted") => s.consec = 0

\* I-RetentionSafety: no discarded checkpoint is used by a retained (or
\* persisting) one; a discard happens once (a discarded id leaves known, and
\* only known ids are discarded); a no_claim snapshot is never discarded.
RetentionSafety ==
    /\ \A d \in s.discarded :
          /\ d \notin DOMAIN s.known
          /\ \A k \in DOMAIN s.known : s.known[k].inStore => d \notin Range(s.known[k].refs)
          /\ \A c \in DOMAIN s.pending : s.pending[c].persisting => d \notin Range(s.pending[c].refs)
    /\ s.discarded \cap NoClaimIds = {}

\* I-NoLeak: a checkpoint neither retained nor referenced (by a retained or a
\* persisting checkpoint) nor pending is discarded (or, not owned, forgotten).
NoLeak ==
    /\ \A k \in DOMAIN s.known :
          \/ s.known[k].inStore
          \/ \E j \in DOMAIN s.known : s.known[j].inStore /\ k \in Range(s.known[j].refs)
          \/ \E c \in DOMAIN s.pending : s.pending[c].persisting /\ k \in Range(s.pending[c].refs)
    /\ \A c \in CompletedCkpts : c \in DOMAIN s.known \/ c \in s.discarded

\* I-NotifySafety: completion is notified only after persist, once, never for
\* a savepoint, to the regions that reference the checkpoint itself (the
\* notice carries the refs it was decided with); an abort notice only for an
\* aborted checkpoint.  Stated on the step's effects (s.fx).
NotifySafety ==
    \A i \in 1..Len(s.fx) :
        LET e == s.fx[i] IN
        /\ e.type = "notify_complete" =>
              /\ e.checkpoint \in DOMAIN s.done /\ s.done[e.checkpoint].outcome = "completed"
              /\ e.checkpoint \in s.persisted /\ s.done[e.checkpoint].kind # "savepoint"
              /\ e.refs = s.done[e.checkpoint].refs
              /\ \A j \in 1..Len(s.fx) : j # i => ~(s.fx[j].type = "notify_complete" /\ s.fx[j].checkpoint = e.checkpoint)
        /\ e.type = "notify_aborted" =>
              e.checkpoint \in DOMAIN s.done /\ s.done[e.checkpoint].outcome = "aborted"

\* I-SavepointGlobal: savepoints and stop-with-savepoint never complete
\* regionally and never enter the store.
SavepointGlobal ==
    \A c \in Completed : s.done[c].kind # "checkpoint" =>
        s.done[c].mode = "global" /\ c \notin DOMAIN s.known

\* I-MonotonicIds: ids are allocated in increasing order and never reused, also
\* across recoveries; checkpoints enter the store in increasing id order.
MonotonicIds ==
    /\ \A c \in DOMAIN s.triggered : c < s.nextId
    /\ \A k \in DOMAIN s.known : k < s.nextId
    /\ DOMAIN s.pending \subseteq DOMAIN s.triggered
    /\ \A i, j \in 1..Len(s.storeSeq) : i < j => s.storeSeq[i] < s.storeSeq[j]

\* I-FailureAccounting: the job fails for tolerable failures exactly when the
\* counted failures since the last success exceed tolerable_failures.
FailureAccounting ==
    /\ s.job = "running" => s.failures <= Tolerable
    /\ s.failedWith # 0 => s.failedWith > Tolerable
    /\ \A c \in s.countedIds : c > s.lastSucc
    /\ Cardinality(s.countedIds) = s.failures

\* I-ConfigAtomic: interval and timeout in force come from the same accepted
\* patch (or the defaults); every pending deadline is based on the timeout in force.
ConfigAtomic ==
    /\ s.cfg = EffOf({}) \/ s.cfg \in s.accepted
    /\ \A c \in DOMAIN s.pending : s.pending[c].timeout = s.cfg.timeout

\* I-DurableOverrides: the configuration in force is the last confirmed
\* overrides (or the defaults); Recover rebuilds it from the durable ovr only.
DurableOverrides == s.cfg = EffOf(s.ovr)

-----------------------------------------------------------------------------
(* The policy rules, each recomputed from the state (the log says what     *)
(* ended, how, in which order; nothing here is written by the action that  *)
(* moves the counter it checks).                                           *)

\* R22 b, d, e, f: a checkpoint that persists with fallback references
\* satisfies each condition of the gate, evaluated from its own record: its
\* failed regions are those that reference older state.
RegionalGate ==
    \A c \in DOMAIN s.pending :
        LET p == s.pending[c]
            F == {r \in Regions : p.refs[r] # c}
        IN (p.persisting /\ F # {}) =>
            /\ Cardinality(F) < p.active                                     \* b: some region has new state
            /\ Cardinality(F) * RatioDen <= RatioNum * p.active              \* b: the ratio
            /\ \A r \in F : p.refs[r] \in DOMAIN s.known                      \* d: state to fall back to
            /\ F \cap NoFallback = {}                                         \* e
            /\ MaxRefAge > 0 => \A r \in F : c - p.refs[r] <= MaxRefAge        \* f

\* R25 tiers 1 and 2 (as amended) and R21's metadata: the counter equals the
\* number of regional completions since the last global completion of a
\* checkpoint or the last end of a forced-global checkpoint without completion
\* (tier 2), counted from what a recovery read back (R50), each regional
\* completion counting from the count when its persist was sealed (LogStep);
\* every completed checkpoint's metadata holds the count right after its
\* completion.
RECURSIVE ConsecWalk(_, _, _)
ConsecWalk(L, i, a) ==
    IF i > Len(L) THEN a
    ELSE LET e == L[i]
             v == LogStep(a.v, e)
             meta == (e.ev = "completed" /\ e.kind = "checkpoint" /\ e.id \in DOMAIN s.known)
                        => s.known[e.id].consec = v
         IN ConsecWalk(L, i + 1, [v |-> v, ok |-> a.ok /\ meta])
ConsecutiveCount ==
    LET w == ConsecWalk(s.log, 1, [v |-> 0, ok |-> TRUE]) IN w.ok /\ s.consec = w.v

\* R50: right after a coordinator recovery (nothing ended since), the counter
\* is the latest completed checkpoint's metadata.
CounterRecovered ==
    (Len(s.log) = 1 /\ s.log[1].ev = "recover") =>
        s.consec = IF Latest(s) = 0 THEN 0 ELSE s.known[Latest(s)].consec

\* R30 with its own table: the count is the number of counted failures since
\* the last success (ids above it, each once; a savepoint's job-level failures
\* and a stop-with-savepoint's never), the job fails for tolerable failures
\* exactly when the count exceeds tolerable_failures, and that clears it.
R30Counted == {"declined", "async_exception", "expired", "finalize_failed"}
R30JobLevel == {"expired", "finalize_failed"}
RECURSIVE FailWalk(_, _, _)
FailWalk(L, i, a) ==
    IF i > Len(L) THEN a
    ELSE LET e == L[i]
             ok == a.ok /\ (~a.due \/ e.ev = "fail_job")
             b == CASE e.ev = "recover" -> [n |-> 0, last |-> 0, ok |-> ok, due |-> FALSE]
                    [] e.ev = "completed" ->
                         IF e.id > a.last THEN [a EXCEPT !.n = 0, !.last = e.id, !.ok = ok] ELSE [a EXCEPT !.ok = ok]
                    [] e.ev = "aborted" ->
                         IF /\ e.reason \in R30Counted /\ e.kind # "stop_with_savepoint"
                            /\ ~(e.kind = "savepoint" /\ e.reason \in R30JobLevel) /\ e.id > a.last
                         THEN [a EXCEPT !.n = @ + 1, !.due = a.n + 1 > Tolerable, !.ok = ok]
                         ELSE [a EXCEPT !.ok = ok]
                    [] e.ev = "fail_job" ->
                         [a EXCEPT !.ok = @ /\ (a.due <=> e.reason = "tolerable_failures_exceeded"),
                                   !.n = IF a.due THEN 0 ELSE @, !.due = FALSE]
         IN FailWalk(L, i + 1, b)
FailureCount ==
    LET w == FailWalk(s.log, 1, [n |-> 0, last |-> Restore.id, ok |-> TRUE, due |-> FALSE])
    IN w.ok /\ ~w.due /\ s.failures = w.n

\* R25 as amended: the forcing all sources finishing started ends only with a
\* checkpoint triggered after they finished (an id from forceFrom on).
SourcesForcing ==
    (RegionalMode /\ s.srcFin /\ s.job = "running") =>
        \/ s.forceNext
        \/ \E i \in 1..Len(s.log) : /\ s.log[i].ev \in {"completed", "aborted"}
                                  /\ s.log[i].kind = "checkpoint" /\ s.log[i].id >= s.forceFrom

\* R24 as amended: a stop-with-savepoint stopped the scheduler when it was
\* triggered, so no checkpoint triggered before it is still pending.
SwsStopsScheduler ==
    \A c \in DOMAIN s.pending : s.pending[c].kind = "stop_with_savepoint" =>
        \A d \in DOMAIN s.pending : d >= c

\* R60 as amended: a request id is used once, in increasing order: an accepted
\* patch has an id above every id used before it, accepted or rejected (since
\* the last recovery).
RequestIdsOnce ==
    \A i \in 1..Len(s.reqs) : s.reqs[i].q > s.reqs[i].prior

Policy == /\ RegionalGate /\ ConsecutiveCount /\ CounterRecovered /\ FailureCount /\ SourcesForcing
          /\ SwsStopsScheduler /\ RequestIdsOnce

Invariants ==
    /\ TypeOK /\ RegionConsistency /\ NoOrphanState /\ ConsecutiveBound /\ TierTwoReset
    /\ RetentionSafety /\ NoLeak /\ NotifySafety /\ SavepointGlobal /\ MonotonicIds
    /\ FailureAccounting /\ ConfigAtomic /\ DurableOverrides /\ Policy

=============================================================================
