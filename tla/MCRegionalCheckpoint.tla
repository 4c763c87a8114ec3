------------------------ MODULE MCRegionalCheckpoint ------------------------
(***************************************************************************)
(* Model-checking harness for RegionalCheckpoint: model values for the    *)
(* regions, symmetry, and the liveness property with its fairness.        *)
(* The .cfg files next to this module pick the constants.                  *)
(***************************************************************************)
EXTENDS RegionalCheckpoint

CONSTANTS r0, r1, r2

Two == {r0, r1}
Three == {r0, r1, r2}
Fresh == [id |-> 0]
\* R41: the job starts from snapshot 2, in which r1 references checkpoint 1.
RestoredClaim == [id |-> 2, claim |-> TRUE, refs |-> (r0 :> 2 @@ r1 :> 1)]
RestoredNoClaim == [id |-> 2, claim |-> FALSE, refs |-> (r0 :> 2 @@ r1 :> 1)]
NoSymmetry == {}

\* Symmetry.  The regions are interchangeable in this spec: region order only
\* names them (R3: r0, r1, ... in the order of their first subtask) and no
\* decision depends on it (expiry fails all waiting regions at once with the
\* same cause; the gate and the references are per region).  What is NOT
\* symmetric: a region with a plain coordinator (NoFallback, R22e) and a
\* region that a restored snapshot references differently (Restore.refs).
\* So permute only regions that agree on both; with a restore, use no symmetry.
RegionSymmetry == Permutations(Regions \ NoFallback) \cup Permutations(NoFallback)

\* s.fx (the effects of the last step) is output only: no action and no
\* invariant reads it, so states that differ only in it are merged.
MCView == [s EXCEPT !.fx = <<>>]

-----------------------------------------------------------------------------
(* Liveness: "a region that stops failing eventually references a fresh    *)
(* checkpoint", stated for the case where it is true in general: once the  *)
(* environment stops injecting faults (task failures, declines, expiries,  *)
(* persist failures, coordinator recoveries) and the job keeps running,    *)
(* every region eventually has its own state in the latest completed       *)
(* checkpoint, and keeps it.  (For ONE region that stops failing while     *)
(* others go on failing it is false: with max_failure_ratio below the      *)
(* share of failing regions every checkpoint aborts, R22b.)                *)
(*                                                                         *)
(* Ids are bounded, so the environment gets a fault budget in ids: faults  *)
(* and savepoints happen only while at least two ids are left, and a       *)
(* checkpoint is triggered only while every region is up (no R13           *)
(* trigger-while-restarting here: an adversarial scheduler could otherwise *)
(* spend every id on checkpoints that must fall back).  Fairness: weak     *)
(* fairness on triggering checkpoints, acks, persist confirmations and     *)
(* restarts (TaskRunning).                                                 *)
FaultsAllowed == s.nextId < MaxId

LiveNext ==
    \/ s.down = {} /\ Trigger("checkpoint")
    \/ FaultsAllowed /\ \E k \in Kinds \ {"checkpoint"} : Trigger(k)
    \/ \E c \in DOMAIN s.pending, r \in Regions : Ack(c, r)
    \/ FaultsAllowed /\ \E c \in DOMAIN s.pending, r \in Regions, why \in DeclineReasons :
           Decline(c, r, why)
    \/ FaultsAllowed /\ \E r \in Regions : TaskFailed(r)
    \/ \E r \in Regions : TaskRunning(r)
    \/ \E c \in DOMAIN s.pending : Persisted(c)
    \/ FaultsAllowed /\ \E c \in DOMAIN s.pending : PersistFailed(c) \/ Expire(c)
    \/ \E q \in Requests, iv \in Intervals \cup {None}, to \in Timeouts \cup {None} :
           ConfigPatch(q, iv, to)
    \/ \E q \in Requests : ConfigPersisted(q)
    \/ FaultsAllowed /\ Recover

LiveSpec ==
    /\ Init /\ [][LiveNext]_s
    /\ WF_s(s.down = {} /\ Trigger("checkpoint"))
    /\ WF_s(\E c \in DOMAIN s.pending, r \in Regions : Ack(c, r))
    /\ WF_s(\E c \in DOMAIN s.pending : Persisted(c))
    /\ WF_s(\E r \in Regions : TaskRunning(r))

LatestSelf(r) == Latest(s) # 0 /\ s.known[Latest(s)].refs[r] = Latest(s)

\* What the environment does that can keep a region from fresh state.
Fault ==
    \/ \E k \in Kinds \ {"checkpoint"} : Trigger(k)
    \/ \E c \in DOMAIN s.pending, r \in Regions, why \in DeclineReasons : Decline(c, r, why)
    \/ \E r \in Regions : TaskFailed(r)
    \/ \E c \in DOMAIN s.pending : PersistFailed(c) \/ Expire(c)
    \/ Recover

\* If faults eventually stop ((<>[][~Fault]_s, written as its negation) and the
\* job keeps running, every region eventually references its own state in the
\* latest completed checkpoint, for good.
FreshAfterQuiet ==
    \/ []<><<Fault>>_s
    \/ ~<>[](s.job = "running")
    \/ \A r \in Regions : <>[]LatestSelf(r)
=============================================================================
