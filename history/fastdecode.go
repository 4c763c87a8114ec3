package history

import (
	"github.com/ckptcore/ckptcore/fsm"
)

// Keys the fast path knows, as bits of a seen-mask.
const (
	fkAt = 1 << iota
	fkType
	fkCheckpoint
	fkTask
	fkKind
	fkReason
	fkRequest
	fkStateSize
	fkCheckpointedSize
)

// fastEvent decodes the common shape of an event line — the shape Writer
// writes: a flat object without whitespace whose values are plain decimal
// integers or strings without escapes — in one pass, allocating only the task
// name. Anything else (effects, restore, config patches, whitespace, escapes,
// non-ASCII, unknown or duplicate keys, values out of range) returns ok=false
// and the strict decoder reads the line, so every error stays as it is.
func fastEvent(t *fsm.Topology, line []byte) (rec Record, ok bool) {
	n := len(line)
	if n < 2 || line[0] != '{' || line[n-1] != '}' {
		return rec, false
	}
	var seen int
	var typ, task, kind, reason []byte
	ev := &rec.Event
	i := 1
	for {
		// key
		if i >= n || line[i] != '"' {
			return rec, false
		}
		ks := i + 1
		i = ks
		for i < n && line[i] != '"' {
			if c := line[i]; c == '\\' || c < 0x20 || c >= 0x80 {
				return rec, false
			}
			i++
		}
		if i+1 >= n || line[i+1] != ':' {
			return rec, false
		}
		key := line[ks:i]
		i += 2
		// value
		var str []byte
		var num int64
		isStr := false
		if i < n && line[i] == '"' {
			vs := i + 1
			i = vs
			for i < n && line[i] != '"' {
				if c := line[i]; c == '\\' || c < 0x20 || c >= 0x80 {
					return rec, false
				}
				i++
			}
			if i >= n {
				return rec, false
			}
			str, isStr = line[vs:i], true
			i++
		} else {
			vs := i
			for i < n && line[i] >= '0' && line[i] <= '9' {
				if i-vs >= 16 { // beyond 2^53: let the strict path say so
					return rec, false
				}
				num = num*10 + int64(line[i]-'0')
				i++
			}
			if i == vs || line[vs] == '0' && i-vs > 1 {
				return rec, false
			}
		}
		var bit int
		switch string(key) {
		case "at":
			bit, ev.At = fkAt, num
		case "type":
			bit, typ = fkType, str
		case "checkpoint":
			bit, ev.Checkpoint = fkCheckpoint, num
		case "task":
			bit, task = fkTask, str
		case "kind":
			bit, kind = fkKind, str
		case "reason":
			bit, reason = fkReason, str
		case "request":
			bit, ev.Request = fkRequest, num
		case "state_size":
			bit, ev.StateSize = fkStateSize, num
		case "checkpointed_size":
			bit, ev.CheckpointedSize = fkCheckpointedSize, num
		default:
			return rec, false
		}
		wantStr := bit == fkType || bit == fkTask || bit == fkKind || bit == fkReason
		if seen&bit != 0 || wantStr != isStr {
			return rec, false
		}
		seen |= bit
		if i >= n {
			return rec, false
		}
		if line[i] == '}' {
			if i != n-1 {
				return rec, false
			}
			break
		}
		if line[i] != ',' {
			return rec, false
		}
		i++
	}
	// Allowed and required keys per type (HISTORY.md, Events).
	var allowed, required int
	switch string(typ) {
	case "tick":
		ev.Type, allowed = fsm.EvTick, 0
	case "trigger":
		ev.Type, allowed, required = fsm.EvTrigger, fkKind, fkKind
	case "ack":
		ev.Type, allowed, required = fsm.EvAck, fkCheckpoint|fkTask|fkStateSize|fkCheckpointedSize, fkCheckpoint|fkTask
	case "decline":
		ev.Type, allowed, required = fsm.EvDecline, fkCheckpoint|fkTask|fkReason, fkCheckpoint|fkTask
	case "task_failed":
		ev.Type, allowed, required = fsm.EvTaskFailed, fkTask, fkTask
	case "task_running":
		ev.Type, allowed, required = fsm.EvTaskRunning, fkTask, fkTask
	case "task_finished":
		ev.Type, allowed, required = fsm.EvTaskFinished, fkTask, fkTask
	case "persisted":
		ev.Type, allowed, required = fsm.EvPersisted, fkCheckpoint, fkCheckpoint
	case "persist_failed":
		ev.Type, allowed, required = fsm.EvPersistFailed, fkCheckpoint, fkCheckpoint
	case "config_persisted":
		ev.Type, allowed, required = fsm.EvConfigPersisted, fkRequest, fkRequest
	case "recover":
		ev.Type = fsm.EvRecover
	default:
		return rec, false // start, config_patch, unknown types: the strict path
	}
	allowed |= fkAt | fkType
	required |= fkAt | fkType
	if seen&^allowed != 0 || seen&required != required || ev.At > maxID ||
		ev.StateSize > maxID || ev.CheckpointedSize > maxID {
		return rec, false
	}
	if seen&fkCheckpoint != 0 && (ev.Checkpoint < 1 || ev.Checkpoint > maxID) ||
		seen&fkRequest != 0 && (ev.Request < 1 || ev.Request > maxID) {
		return rec, false
	}
	if seen&fkKind != 0 {
		k, ok := parseKindBytes(kind)
		if !ok {
			return rec, false
		}
		ev.Kind = k
	}
	if seen&fkReason != 0 {
		r, ok := declineReason(reason)
		if !ok {
			return rec, false
		}
		ev.Reason = r
	}
	if seen&fkTask != 0 {
		id, err := t.ParseTask(string(task))
		if err != nil {
			return rec, false
		}
		ev.Task = id
	}
	return rec, true
}

func parseKindBytes(b []byte) (fsm.Kind, bool) {
	switch string(b) {
	case "checkpoint":
		return fsm.KindCheckpoint, true
	case "savepoint":
		return fsm.KindSavepoint, true
	case "stop_with_savepoint":
		return fsm.KindStopWithSavepoint, true
	}
	return 0, false
}

func declineReason(b []byte) (fsm.Reason, bool) {
	for _, r := range fsm.DeclineReasons {
		if string(r) == string(b) {
			return r, true
		}
	}
	return "", false
}
