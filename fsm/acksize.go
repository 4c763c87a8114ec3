package fsm

// ackSizes are the bytes a set of acks reported (Flink's state_size and
// checkpointed_size).
type ackSizes struct {
	state, checkpointed int64
}

// addSat adds two sizes in [0, 2^53-1], saturating at 2^53-1 so that a total
// stays exact in JSON (HISTORY.md keeps numbers below 2^53).
func addSat(a, b int64) int64 {
	if a > MaxSafeInt-b {
		return MaxSafeInt
	}
	return a + b
}

// addSizes records the sizes of a kept ack in O(1): on the global path into the
// running total (any failure aborts the whole checkpoint, R17); on the regional
// path per region, because a region that fails later drops its acks (R18).
func (p *pendingCheckpoint) addSizes(t *Topology, task TaskID, state, checkpointed int64) {
	if state == 0 && checkpointed == 0 {
		return
	}
	if !p.regionalPath {
		p.stateSize = addSat(p.stateSize, state)
		p.checkpointedSize = addSat(p.checkpointedSize, checkpointed)
		return
	}
	if p.regionSizes == nil {
		p.regionSizes = make([]ackSizes, t.NumRegions())
	}
	r := &p.regionSizes[t.RegionOf(task)]
	r.state = addSat(r.state, state)
	r.checkpointed = addSat(r.checkpointed, checkpointed)
}

// totalSizes fixes the totals when the checkpoint is sealed (R23): on the
// regional path, the sum over the regions whose acks it kept (failRegion
// zeroes a failed region's sums).
func (p *pendingCheckpoint) totalSizes() {
	if p.regionSizes == nil {
		return
	}
	p.stateSize, p.checkpointedSize = 0, 0
	for _, r := range p.regionSizes {
		p.stateSize = addSat(p.stateSize, r.state)
		p.checkpointedSize = addSat(p.checkpointedSize, r.checkpointed)
	}
	p.regionSizes = nil
}

// validateSizes checks the optional ack sizes: only an ack carries them, and
// they are byte counts below 2^53 (HISTORY.md, ack).
func validateSizes(ev Event, bad func(string, string, ...any) error) error {
	if ev.Type != EvAck {
		if ev.StateSize != 0 {
			return bad("state_size", "only an ack carries sizes")
		}
		if ev.CheckpointedSize != 0 {
			return bad("checkpointed_size", "only an ack carries sizes")
		}
		return nil
	}
	if ev.StateSize < 0 || ev.StateSize > MaxSafeInt {
		return bad("state_size", "%d bytes out of range [0, 2^53)", ev.StateSize)
	}
	if ev.CheckpointedSize < 0 || ev.CheckpointedSize > MaxSafeInt {
		return bad("checkpointed_size", "%d bytes out of range [0, 2^53)", ev.CheckpointedSize)
	}
	return nil
}
