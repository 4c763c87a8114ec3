--------------------- MODULE TraceRegionalCheckpoint ----------------------
(***************************************************************************)
(* Trace validation of a history (docs/spec/HISTORY.md) against            *)
(* RegionalCheckpoint, in the style of etcd-io/raft's Traceetcdraft.tla:   *)
(* TLC reads the history (NDJSON, Json!ndJsonDeserialize) and walks the    *)
(* spec along it.  The history is first normalized by tla/normalize (no    *)
(* comments, the job's regions, max_failure_ratio in ppm, and every line's *)
(* effects: by default those the Go core computed for it).  Run with       *)
(* tla/run.sh trace FILE...                                                *)
(*                                                                         *)
(* The spec has no clock and no subtasks; this module adds them as the     *)
(* auxiliary record x and refines every history line into spec steps:      *)
(*   1. "due" phase: what is due at or before the line's time happens      *)
(*      first, each at its own time (R10): expirations by deadline, ties   *)
(*      by id, before the periodic request (R11); after each, waiting      *)
(*      requests run (R12);                                                *)
(*   2. the event itself: ack, decline, task_failed, ... map to the spec   *)
(*      action of the same name; a subtask-level event that changes        *)
(*      nothing at region level (an ack that is not its region's last,     *)
(*      a duplicate or late ack, a tick, a refused trigger) is a stutter;  *)
(*   3. "post" phase: checkpoints whose new deadline already passed        *)
(*      expire (R61), then waiting requests run;                           *)
(*   4. the effects of all these spec steps (s.fx, region level), refined  *)
(*      to subtasks and vertices here (Refine), plus what the decider does *)
(*      without the spec (trigger_failed, discard_late_state), must equal  *)
(*      every effect of the line, in order (Expected).                     *)
(* Every step is checked to be a step of RegionalCheckpoint's Next         *)
(* (PROPERTY Spec) and every state against the invariants of §10.          *)
(* The walk is deterministic: one successor per state.  If the spec cannot *)
(* follow the history, TLC stops with an Assert naming the line, or with   *)
(* a deadlock (no step possible) before the last line.                     *)
(***************************************************************************)
EXTENDS RegionalCheckpoint, Json, IOUtils

HistoryFile ==
    IF "HISTORY" \in DOMAIN IOEnv THEN IOEnv.HISTORY
    ELSE Assert(FALSE, "set HISTORY to a history normalized by tla/normalize (tla/run.sh trace does)")

Log == TLCEval(ndJsonDeserialize(HistoryFile))
Job == Log[1]
Events == TLCEval(SubSeq(Log, 2, Len(Log)))     \* Events[1] is the start event

ASSUME Job.type = "job" /\ Len(Events) >= 1 /\ Events[1].type = "start"

RegionName(r) == "r" \o ToString(r)
NRegions == Len(Job.regions)
RegionTasks(r) == {Job.regions[r + 1][i] : i \in 1..Len(Job.regions[r + 1])}
TaskRegion(tk) == CHOOSE r \in 0..(NRegions - 1) : tk \in RegionTasks(r)
TasksOf(R) == UNION {RegionTasks(r) : r \in R}
AllTasks == TasksOf(0..(NRegions - 1))
Sources == {Job.sources[i] : i \in 1..Len(Job.sources)}
Has(e, f) == f \in DOMAIN e
Vertices == Job.vertices
Coords(r) == {Job.coordinators[r + 1][i] : i \in 1..Len(Job.coordinators[r + 1])}
RegionIdx(k) == CHOOSE r \in 0..(NRegions - 1) : RegionName(r) = k
EvOfType(T) == {Events[i] : i \in {j \in 1..Len(Events) : Events[j].type \in T}}

(* RegionalCheckpoint's constants, from the history (see the .cfg).        *)
TraceRegions == 0..(NRegions - 1)
TraceMaxId == 1000000000
TraceRetained == Job.config.retained
TraceMaxConcurrent == Job.config.max_concurrent
TraceTolerable == Job.config.tolerable_failures
TraceMaxConsecutive == Job.config.max_consecutive
TraceMaxRefAge == Job.config.max_ref_age
TraceRegionalMode == Job.regional
TraceRatioNum == Job.config.ratio_ppm
TraceRatioDen == 1000000
TraceNoFallback == {Job.no_fallback[i] : i \in 1..Len(Job.no_fallback)}
TraceDefaultInterval == Job.config.interval_ms
TraceDefaultTimeout == Job.config.timeout_ms
TraceMaxTimeout == Job.config.max_timeout_ms
TraceFinishing == TRUE
TraceRecovering == TRUE
TraceRestore ==
    IF ~Has(Events[1], "restore") THEN [id |-> 0]
    ELSE LET R == Events[1].restore
             refs == IF Has(R, "refs") THEN R.refs ELSE [n \in {} |-> 0]
         IN [id |-> R.checkpoint, claim |-> R.mode = "claim",
             refs |-> [r \in TraceRegions |->
                         IF RegionName(r) \in DOMAIN refs THEN refs[RegionName(r)] ELSE R.checkpoint]]
TraceKinds == {"checkpoint", "savepoint", "stop_with_savepoint"}
TraceDeclineReasons == {"declined", "async_exception", "task_not_ready", "task_closing",
                        "on_cancellation_barrier", "subsumed", "input_end_of_stream"}
TraceRequests == {e.request : e \in EvOfType({"config_patch", "config_persisted"})}
TraceIntervals == {e.interval_ms : e \in {f \in EvOfType({"config_patch"}) : Has(f, "interval_ms")}}
TraceTimeouts == {e.timeout_ms : e \in {f \in EvOfType({"config_patch"}) : Has(f, "timeout_ms")}}

MinPause == Job.config.min_pause_ms
BasePeriod(iv) == IF iv = 0 THEN 0 ELSE Max(iv, MinPause)          \* R11
Period == BasePeriod(s.cfg.interval)

-----------------------------------------------------------------------------
(* x: the line being replayed (l, ph), the clock (now), the trigger time   *)
(* of each checkpoint (tAt), the periodic schedule and the decider's       *)
(* queues (R11, R12), the last completion's time (min_pause), the          *)
(* restarting (tDown) and finished (tFin) subtasks, the subtasks each      *)
(* pending checkpoint still waits for (tWait), and the spec's effects so   *)
(* far for this line.                                                      *)
VARIABLE x
vars == <<s, x>>

Ev == Events[x.l]
At == Ev.at
Deadline(c) == x.tAt[c] + s.pending[c].timeout                     \* R15, R61
Expirable == {c \in DOMAIN s.pending : ~s.pending[c].persisting /\ ~Ready(s.pending[c])}
PerActive == x.perOn /\ s.job = "running"
Free == Cardinality(DOMAIN s.pending) < MaxConcurrent
QueuedRunnable == s.job = "running" /\ Free /\ (x.qMan > 0 \/ x.qPer)
Late == {c \in Expirable : Deadline(c) <= x.now}
SwsPending == \E c \in DOMAIN s.pending : s.pending[c].kind = "stop_with_savepoint"
Running(y) == AllTasks \ (y.tDown \cup y.tFin)

\* R14: the id counter is written durably before each trigger (persist_id_counter);
\* normalize says whether the history is held to it (always with the core's
\* effects; a recording only if it shows it at all).
IdCounterFx == Job.id_counter

-----------------------------------------------------------------------------
(* The spec's region-level effects, refined to what the core emits: the   *)
(* trigger with its subtasks (those running, R15) and deadline, preceded  *)
(* by the deferred region_skipped notices of the regions it reaches (R26); *)
(* coordinator_fallback per vertex before a regional persist (R23); the    *)
(* subtasks notify_complete and notify_aborted reach (R26).  y is the      *)
(* auxiliary state of this step, t the spec state after it.               *)
TF(k, why) == [type |-> "trigger_failed", kind |-> k, reason |-> why]
Reaches(y, n) == RegionTasks(n.r) \cap Running(y) # {}
Delivered(y) == SelectSeq(y.skip, LAMBDA n : RegionTasks(n.r) \cap Running(y) # {})
Kept(y) == SelectSeq(y.skip, LAMBDA n : RegionTasks(n.r) \cap Running(y) = {})
Failed(e) == {r \in Regions : e.refs[r] # e.checkpoint}

Fallbacks(e) ==
    LET V == Ascending(UNION {Coords(r) : r \in Failed(e)}) IN
    [i \in 1..Len(V) |-> [type |-> "coordinator_fallback", checkpoint |-> e.checkpoint,
                          vertex |-> Vertices[V[i] + 1],
                          refs |-> {<<r, e.refs[r]>> : r \in {q \in Failed(e) : V[i] \in Coords(q)}}]]

RefineOne(e, y, t) ==
    CASE e.type = "trigger" ->
            LET D == Delivered(y) IN
            [i \in 1..Len(D) |-> [type |-> "region_skipped", checkpoint |-> D[i].c, region |-> D[i].r,
                                  tasks |-> RegionTasks(D[i].r) \cap Running(y)]]
            \o (IF IdCounterFx THEN <<[type |-> "persist_id_counter", next_id |-> e.checkpoint + 1]>> ELSE <<>>)
            \o <<[type |-> "trigger", checkpoint |-> e.checkpoint, kind |-> e.kind, forced |-> e.forced,
                  tasks |-> Running(y), deadline |-> y.now + t.cfg.timeout]>>
      [] e.type = "persist" -> Fallbacks(e) \o <<e>>
      [] e.type = "notify_complete" ->
            LET c == e.checkpoint
                olds == {e.refs[r] : r \in Failed(e)}
            IN <<[type |-> "notify_complete", checkpoint |-> c,
                  tasks |-> (y.tAck[c] \ TasksOf(Failed(e))) \cap Running(y),
                  info |-> {<<ToString(d), TasksOf({r \in Failed(e) : e.refs[r] = d})>> : d \in olds}]>>
      [] e.type = "notify_aborted" ->
            LET c == e.checkpoint IN
            <<[type |-> "notify_aborted", checkpoint |-> c, latest |-> e.latest,
               tasks |-> (IF c \in DOMAIN y.tTrig THEN y.tTrig[c] ELSE Running(y)) \cap Running(y)]>>
      [] OTHER -> <<e>>

RECURSIVE RefineSeq(_, _, _, _)
RefineSeq(fx, i, y, t) == IF i > Len(fx) THEN <<>> ELSE RefineOne(fx[i], y, t) \o RefineSeq(fx, i + 1, y, t)

\* R26: a regional completion leaves a region_skipped notice per failed region,
\* delivered with the next trigger that reaches the region.
RECURSIVE NewSkips(_, _)
NewSkips(fx, i) ==
    IF i > Len(fx) THEN <<>>
    ELSE LET e == fx[i]
             F == IF e.type = "completed" /\ e.kind = "checkpoint" THEN Ascending(Failed(e)) ELSE <<>>
         IN [j \in 1..Len(F) |-> [c |-> e.checkpoint, r |-> F[j]]] \o NewSkips(fx, i + 1)

\* The bookkeeping after a step of the spec (s' is known), from y, which is x
\* with this step's own changes; tail: effects the decider adds after it.
AfterSpecT(y, tail) ==
    LET new == DOMAIN s'.pending \ DOMAIN s.pending
        done == \E c \in DOMAIN s'.done \ DOMAIN s.done : s'.done[c].outcome = "completed"
        running == Running(y)
        trig == \E i \in 1..Len(s'.fx) : s'.fx[i].type = "trigger"
    IN x' = [y EXCEPT
               !.lineFx = @ \o RefineSeq(s'.fx, 1, y, s') \o tail,
               !.tAt = @ @@ [c \in new |-> y.now],
               !.tTrig = @ @@ [c \in new |-> running],
               !.tAck = [c \in DOMAIN s'.pending |->
                           (IF c \in DOMAIN y.tAck THEN y.tAck[c] ELSE {}) \ TasksOf(s'.pending[c].failed)],
               !.skip = (IF trig THEN Kept(y) ELSE y.skip) \o NewSkips(s'.fx, 1),
               \* a new checkpoint waits for the running subtasks (R15); a failed
               \* region's subtasks are no longer waited for (R18)
               !.tWait = [c \in DOMAIN s'.pending |->
                            (IF c \in DOMAIN y.tWait THEN y.tWait[c] ELSE running)
                              \ TasksOf(s'.pending[c].failed)],
               !.hasLC = @ \/ done,
               !.lastLC = IF done THEN y.now ELSE @,
               \* the coordinator ends (job failed or finished): queues are dropped
               !.qPer = @ /\ s'.job = "running",
               !.qMan = IF s'.job = "running" THEN @ ELSE 0]

AfterSpec(y) == AfterSpecT(y, <<>>)
StepSpec(A, y) == A /\ AfterSpec(y)
Stutter(y) == UNCHANGED s /\ x' = y
\* A request that ends without an id (HISTORY.md: trigger_failed).
Refused(y, k, why) == Stutter([y EXCEPT !.lineFx = Append(@, TF(k, why))])

\* R12: a checkpoint request with a free slot.  A periodic one less than
\* min_pause after the last completion is dropped and the schedule moves; a
\* request the spec refuses (R13: not_all_running) uses no id.
Execute(periodic, y) ==
    IF periodic /\ y.hasLC /\ y.now - y.lastLC < MinPause
    THEN Refused([y EXCEPT !.perDue = y.lastLC + MinPause], "checkpoint", "min_pause")
    ELSE IF TriggerPre("checkpoint") THEN StepSpec(Trigger("checkpoint"), y)
    ELSE Refused(y, "checkpoint", "not_all_running")

RunQueued ==
    /\ x.l <= Len(Events)
    /\ ~(x.ph = "post" /\ Late # {})
    /\ QueuedRunnable
    /\ IF x.qMan > 0 THEN Execute(FALSE, [x EXCEPT !.qMan = @ - 1])
       ELSE Execute(TRUE, [x EXCEPT !.qPer = FALSE])

Due(T) == (\E c \in Expirable : Deadline(c) <= T) \/ (PerActive /\ x.perDue <= T)

\* R10, R11: the earliest due item, each at its own time.
DueItem ==
    /\ x.l <= Len(Events) /\ x.ph = "due" /\ ~QueuedRunnable /\ Due(At)
    /\ LET minD == IF Expirable = {} THEN -1 ELSE MinOf({Deadline(c) : c \in Expirable})
       IN IF Expirable # {} /\ minD <= At /\ (~PerActive \/ minD <= x.perDue)
          THEN LET c == MinOf({d \in Expirable : Deadline(d) = minD})
               IN StepSpec(Expire(c), [x EXCEPT !.now = minD])
          ELSE LET k == (At - x.perDue) \div Period + 1
                   y == [x EXCEPT !.now = x.perDue, !.perDue = x.perDue + k * Period]
               IN IF SwsPending THEN Stutter(y)
                  ELSE IF ~Free THEN Stutter([y EXCEPT !.qPer = TRUE])
                  ELSE Execute(TRUE, y)

DeclineReason(e) == IF Has(e, "reason") THEN e.reason ELSE "declined"
PatchValue(e, f) == IF Has(e, f) THEN e[f] ELSE None

\* R62: a new interval applies from the next cycle.
Reschedule(y, iv) ==
    LET p == BasePeriod(iv) IN
    IF iv = s.cfg.interval THEN y
    ELSE IF p = 0 THEN [y EXCEPT !.perOn = FALSE]
    ELSE IF s.job # "running" THEN y
    ELSE [y EXCEPT !.perOn = TRUE,
                   !.perDue = IF ~x.perOn \/ y.now + p < x.perDue THEN y.now + p ELSE x.perDue]

\* The line's event, at its time.
EventStep ==
    /\ x.l <= Len(Events) /\ x.ph = "due" /\ ~QueuedRunnable /\ ~Due(At)
    /\ LET y == [x EXCEPT !.now = At, !.ph = "post"] IN
       CASE Ev.type = "tick" -> Stutter(y)
         [] Ev.type = "trigger" ->
              IF s.job # "running"
              THEN Refused(y, Ev.kind, IF s.job = "failed" THEN "coordinator_suspend" ELSE "coordinator_shutdown")
              ELSE IF Ev.kind = "stop_with_savepoint"
                   \* R24: the scheduler stops: queued requests fail (manual ones
                   \* first), pending checkpoints end (the spec's Trigger)
                   THEN LET q == [i \in 1..x.qMan |-> TF("checkpoint", "coordinator_suspend")]
                                 \o (IF x.qPer THEN <<TF("checkpoint", "coordinator_suspend")>> ELSE <<>>)
                            y2 == [y EXCEPT !.qMan = 0, !.qPer = FALSE, !.lineFx = @ \o q]
                        IN /\ Trigger(Ev.kind)
                           /\ AfterSpecT(y2, IF \E i \in 1..Len(s'.fx) : s'.fx[i].type = "trigger" THEN <<>>
                                             ELSE <<TF(Ev.kind, IF s'.job # "running" THEN "coordinator_suspend"
                                                                ELSE "not_all_running")>>)
              ELSE IF Ev.kind = "savepoint"
                   THEN IF TriggerPre(Ev.kind) THEN StepSpec(Trigger(Ev.kind), y)
                        ELSE Refused(y, Ev.kind, "not_all_running")
              ELSE IF ~Free
                   THEN IF x.qMan >= 1000 THEN Refused(y, "checkpoint", "too_many_requests")
                        ELSE Stutter([y EXCEPT !.qMan = @ + 1])
              ELSE Execute(FALSE, y)
         [] Ev.type = "ack" ->
              LET c == Ev.checkpoint
                  tk == Ev.task
                  r == TaskRegion(tk)
              IN IF c \in DOMAIN s.pending /\ tk \in x.tAck[c] THEN Stutter(y)     \* a duplicate (R16)
                 ELSE IF c \in DOMAIN s.pending /\ tk \in x.tWait[c]
                 THEN LET y2 == [y EXCEPT !.tWait[c] = @ \ {tk}, !.tAck[c] = @ \cup {tk}]
                      IN IF RegionTasks(r) \cap y2.tWait[c] = {}
                         THEN StepSpec(Ack(c, r), y2) ELSE Stutter(y2)
                 \* late or unknown: its state is to be discarded (R16)
                 ELSE Stutter([y EXCEPT !.lineFx = Append(@, [type |-> "discard_late_state", checkpoint |-> c,
                                                               task |-> tk])])
         [] Ev.type = "decline" ->
              IF Ev.checkpoint \in DOMAIN s.pending /\ ~s.pending[Ev.checkpoint].persisting
              THEN StepSpec(Decline(Ev.checkpoint, TaskRegion(Ev.task), DeclineReason(Ev)), y)
              ELSE Stutter(y)
         [] Ev.type = "task_failed" ->
              \* the region's running subtasks and the failed one restart
              LET r == TaskRegion(Ev.task)
                  y2 == [y EXCEPT !.tDown = @ \cup (RegionTasks(r) \ x.tFin) \cup {Ev.task},
                                  !.tFin = @ \ {Ev.task}]
              IN StepSpec(TaskFailedX(r, Ev.task \in x.tFin /\ Ev.task \in Sources), y2)
         [] Ev.type = "task_running" /\ Ev.task \in x.tFin ->
              Assert(FALSE, <<"history line", Ev.line, "task_running of a finished subtask is not modelled">>)
         [] Ev.type = "task_running" ->
              LET r == TaskRegion(Ev.task)
                  dn == x.tDown \ {Ev.task}
              IN IF Ev.task \in x.tDown /\ RegionTasks(r) \cap dn = {}
                 THEN StepSpec(TaskRunning(r), [y EXCEPT !.tDown = dn])
                 ELSE Stutter([y EXCEPT !.tDown = dn])
         [] Ev.type = "task_finished" ->
              \* R20, R25: pending checkpoints stop waiting for the subtask
              LET tk == Ev.task
                  r == TaskRegion(tk)
                  fin == x.tFin \cup {tk}
                  dn == x.tDown \ {tk}
                  C == {c \in DOMAIN s.pending : tk \in x.tWait[c] /\ RegionTasks(r) \cap x.tWait[c] = {tk}}
                  y2 == [y EXCEPT !.tFin = fin, !.tDown = dn,
                                  !.tWait = [c \in DOMAIN @ |-> @[c] \ {tk}]]
              IN IF tk \in x.tFin THEN Stutter(y)
                 ELSE StepSpec(TaskFinished(r, C, RegionTasks(r) \subseteq fin,
                                             r \in s.down /\ RegionTasks(r) \cap dn = {},
                                             tk \in Sources /\ Sources \subseteq fin),
                               y2)
         [] Ev.type = "persisted" ->
              IF Ev.checkpoint \in DOMAIN s.pending /\ s.pending[Ev.checkpoint].persisting
              THEN StepSpec(Persisted(Ev.checkpoint), y) ELSE Stutter(y)
         [] Ev.type = "persist_failed" ->
              IF Ev.checkpoint \in DOMAIN s.pending /\ s.pending[Ev.checkpoint].persisting
              THEN StepSpec(PersistFailed(Ev.checkpoint), y) ELSE Stutter(y)
         [] Ev.type = "config_patch" ->
              StepSpec(ConfigPatch(Ev.request, PatchValue(Ev, "interval_ms"), PatchValue(Ev, "timeout_ms")), y)
         [] Ev.type = "config_persisted" ->
              IF \E k \in 1..Len(s.patches) : s.patches[k].req = Ev.request
              THEN LET k == CHOOSE i \in 1..Len(s.patches) : s.patches[i].req = Ev.request
                   IN StepSpec(ConfigPersisted(Ev.request), Reschedule(y, s.patches[k].interval))
              ELSE Stutter(y)
         [] Ev.type = "recover" ->
              LET y2 == [y EXCEPT !.qPer = FALSE, !.qMan = 0, !.hasLC = FALSE, !.skip = <<>>]
              IN StepSpec(Recover,
                   IF s.job = "finished" THEN y2
                   ELSE [y2 EXCEPT !.tDown = {}, !.perOn = Period > 0,
                                   !.perDue = IF Period > 0 THEN y.now + Period ELSE @])
         [] OTHER -> Assert(FALSE, <<"history line", Ev.line, "event type not modelled by the spec", Ev.type>>)

\* R61: checkpoints whose new deadline has passed expire in the same step.
PostExpire ==
    /\ x.l <= Len(Events) /\ x.ph = "post" /\ Late # {}
    /\ StepSpec(Expire(MinOf(Late)), x)

-----------------------------------------------------------------------------
(* Every effect of the history's line, from its JSON to the records the    *)
(* spec and Refine produce.  Subtask sets are compared as sets (normalize  *)
(* lists their names); the free-text fields (abort's and fail_job's        *)
(* detail, config_rejected's error, warn's message) are not compared.      *)
Set(l) == {l[i] : i \in 1..Len(l)}

Abstract(e) ==
    CASE e.type = "trigger" ->
            [type |-> "trigger", checkpoint |-> e.checkpoint, kind |-> e.kind, forced |-> e.forced_global,
             tasks |-> Set(e.tasks), deadline |-> e.deadline]
      [] e.type = "abort" -> FxAbort(e.checkpoint, e.reason, e.counted)
      [] e.type = "coordinator_fallback" ->
            [type |-> e.type, checkpoint |-> e.checkpoint, vertex |-> e.vertex,
             refs |-> {<<RegionIdx(k), e.refs[k]>> : k \in DOMAIN e.refs}]
      [] e.type \in {"persist", "completed"} ->
            [type |-> e.type, checkpoint |-> e.checkpoint, kind |-> e.kind, mode |-> e.mode,
             refs |-> [r \in TraceRegions |-> e.refs[RegionName(r)]], consecutive |-> e.consecutive]
      [] e.type = "notify_complete" ->
            [type |-> e.type, checkpoint |-> e.checkpoint, tasks |-> Set(e.tasks),
             info |-> {<<k, Set(e.regional_info[k])>> : k \in DOMAIN e.regional_info}]
      [] e.type = "notify_aborted" ->
            [type |-> e.type, checkpoint |-> e.checkpoint, tasks |-> Set(e.tasks),
             latest |-> IF Has(e, "latest_completed") THEN e.latest_completed ELSE 0]
      [] e.type = "region_skipped" ->
            [type |-> e.type, checkpoint |-> e.checkpoint, region |-> RegionIdx(e.region), tasks |-> Set(e.tasks)]
      [] e.type = "discard" -> FxDiscard(e.checkpoint)
      [] e.type = "discard_late_state" -> [type |-> e.type, checkpoint |-> e.checkpoint, task |-> e.task]
      [] e.type = "fail_job" -> FxFailJob(e.reason)
      [] e.type = "finish_job" -> FxFinishJob
      [] e.type \in {"persist_overrides", "config_applied"} ->
            FxConfig(e.type, e.request, e.interval_ms, e.timeout_ms)
      [] e.type = "config_rejected" -> FxRejected(e.request)
      [] e.type = "warn" -> FxWarn(e.code, IF Has(e, "checkpoint") THEN e.checkpoint ELSE 0)
      [] e.type = "trigger_failed" -> TF(e.kind, e.reason)
      [] e.type = "persist_id_counter" -> [type |-> e.type, next_id |-> e.next_id]
      [] OTHER -> [type |-> e.type, not_modelled |-> TRUE]

\* (a recording may leave a line without effects: nothing to compare there)
Expected == IF Has(Ev, "effects") THEN [i \in 1..Len(Ev.effects) |-> Abstract(Ev.effects[i])] ELSE <<>>

\* R4: the start tells once why regional checkpoints are off.
StartEffects ==
    IF Job.regional_requested /\ ~Job.regional THEN <<FxWarn("regional_disabled", 0)>> ELSE <<>>

LineDone ==
    /\ x.l <= Len(Events) /\ x.ph = "post" /\ Late = {} /\ ~QueuedRunnable
    /\ Assert(~Has(Ev, "effects") \/ x.lineFx = Expected,
              <<"history line", Ev.line, Ev.type, "at", At,
                "spec effects", x.lineFx, "recorded effects", Expected>>)
    /\ UNCHANGED s
    /\ x' = [x EXCEPT !.l = @ + 1, !.ph = "due", !.lineFx = <<>>]

Done == x.l > Len(Events) /\ UNCHANGED vars

-----------------------------------------------------------------------------
P0 == BasePeriod(DefaultInterval)

TraceInit ==
    /\ Init
    /\ Assert(~Has(Events[1], "effects") \/
              [i \in 1..Len(Events[1].effects) |-> Abstract(Events[1].effects[i])] = StartEffects,
              <<"history line", Events[1].line, "start", "spec effects", StartEffects,
                "recorded effects", IF Has(Events[1], "effects") THEN Events[1].effects ELSE <<>>>>)
    /\ x = [l |-> 2, ph |-> "due", now |-> Events[1].at,
            tAt |-> [c \in {} |-> 0],
            perOn |-> P0 > 0,
            perDue |-> Events[1].at + (IF Has(Events[1], "initial_delay_ms")
                                       THEN Events[1].initial_delay_ms ELSE P0),
            qPer |-> FALSE, qMan |-> 0, hasLC |-> FALSE, lastLC |-> 0,
            tDown |-> {}, tFin |-> {}, tWait |-> [c \in {} |-> {}], lineFx |-> <<>>,
            tTrig |-> [c \in {} |-> {}], tAck |-> [c \in {} |-> {}], skip |-> <<>>]

TraceNext == RunQueued \/ DueItem \/ EventStep \/ PostExpire \/ LineDone \/ Done

TraceSpec == TraceInit /\ [][TraceNext]_vars

\* The refinement is exact at region level: a region is down in the spec iff
\* one of its subtasks restarts, finished iff all its subtasks are; a region is
\* acked for a checkpoint iff it did not fail for it and no subtask of it is
\* still waited for.
TraceConsistent ==
    /\ \A r \in Regions : (r \in s.down) <=> (RegionTasks(r) \cap x.tDown # {})
    /\ \A r \in Regions : (r \in s.fin) <=> (RegionTasks(r) \subseteq x.tFin)
    /\ \A c \in DOMAIN s.pending : \A r \in Regions :
          (r \in s.pending[c].acked) <=> (r \notin s.pending[c].failed /\ RegionTasks(r) \cap x.tWait[c] = {})

\* TLC prints this at the end: how far the history was followed.
TraceProgress == x.l - 1
=============================================================================
