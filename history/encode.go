package history

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// EncodeHeader renders a header as one line without the newline: keys in a fixed
// order and every config key spelled out, so that a recorded file says exactly
// which configuration it ran with even if the defaults change.
func EncodeHeader(h Header) ([]byte, error) {
	c := h.Config
	if math.IsNaN(c.Regional.MaxFailureRatio) || math.IsInf(c.Regional.MaxFailureRatio, 0) {
		return nil, fmt.Errorf("history: config.regional.max_failure_ratio %v cannot be written as JSON", c.Regional.MaxFailureRatio)
	}
	format := h.Format
	if format == "" {
		format = Format
	}
	o := newObject()
	o.str("format", format)
	job := newObject()
	vs := []byte{'['}
	for i, v := range h.Job.Vertices {
		if i > 0 {
			vs = append(vs, ',')
		}
		vo := newObject()
		vo.str("id", v.ID)
		vo.int("parallelism", int64(v.Parallelism))
		switch v.Coordinator {
		case fsm.CoordinatorNone:
		case fsm.CoordinatorPlain, fsm.CoordinatorFallback:
			vo.str("coordinator", v.Coordinator.String())
		default:
			return nil, fmt.Errorf("history: vertex %q: unknown coordinator kind %d", v.ID, v.Coordinator)
		}
		vs = append(vs, vo.bytes()...)
	}
	job.raw("vertices", append(vs, ']'))
	es := []byte{'['}
	for i, e := range h.Job.Edges {
		if i > 0 {
			es = append(es, ',')
		}
		if e.Pattern > fsm.AllToAll || e.Exchange > fsm.Hybrid {
			return nil, fmt.Errorf("history: edges[%d]: unknown pattern or exchange", i)
		}
		eo := newObject()
		eo.str("from", e.From)
		eo.str("to", e.To)
		eo.str("pattern", e.Pattern.String())
		eo.str("exchange", e.Exchange.String())
		es = append(es, eo.bytes()...)
	}
	job.raw("edges", append(es, ']'))
	o.raw("job", job.bytes())
	co := newObject()
	co.int("interval_ms", c.IntervalMs)
	co.int("timeout_ms", c.TimeoutMs)
	co.int("min_pause_ms", c.MinPauseMs)
	co.int("max_concurrent", int64(c.MaxConcurrent))
	co.int("tolerable_failures", int64(c.TolerableFailures))
	co.int("retained", int64(c.Retained))
	ro := newObject()
	ro.bool("enabled", c.Regional.Enabled)
	ro.raw("max_failure_ratio", strconv.AppendFloat(nil, c.Regional.MaxFailureRatio, 'g', -1, 64))
	ro.int("max_consecutive", int64(c.Regional.MaxConsecutive))
	ro.int("max_ref_age", c.Regional.MaxRefAge)
	co.raw("regional", ro.bytes())
	co.int("max_timeout_ms", c.MaxTimeoutMs)
	o.raw("config", co.bytes())
	return o.bytes(), nil
}

// EncodeEvent renders an event as one line without the newline, with the
// fields of its type in the order of HISTORY.md. effects != nil adds the
// "effects" array (an empty slice records that the step had no effect); nil
// leaves it out.
func EncodeEvent(t *fsm.Topology, ev fsm.Event, effects []fsm.Effect) ([]byte, error) {
	return EncodeEventState(t, ev, StateHandle{}, effects)
}

// EncodeEventState is EncodeEvent for an ack that carried a state handle:
// a handle that is not zero is written as the ack's "state" field, which only
// a FormatState history may hold (HISTORY.md, "State handles"). A handle on
// another event type, or out of its bounds, is an error.
func EncodeEventState(t *fsm.Topology, ev fsm.Event, h StateHandle, effects []fsm.Effect) ([]byte, error) {
	if !h.IsZero() {
		if ev.Type != fsm.EvAck {
			return nil, fmt.Errorf("history: a %s event carries no state handle (only an ack does)", ev.Type)
		}
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("history: ack state: %w", err)
		}
	}
	if ev.Type < fsm.EvStart || ev.Type > fsm.EvRecover {
		return nil, fmt.Errorf("history: unknown event type %d", ev.Type)
	}
	o := newObject()
	o.int("at", ev.At)
	o.str("type", ev.Type.String())
	task := func() error {
		if t == nil || !t.ValidTask(ev.Task) {
			return fmt.Errorf("history: %s: unknown subtask %d", ev.Type, ev.Task)
		}
		o.str("task", t.TaskName(ev.Task))
		return nil
	}
	switch ev.Type {
	case fsm.EvStart:
		if ev.HasInitialDelay {
			o.int("initial_delay_ms", ev.InitialDelayMs)
		}
		if r := ev.Restore; r != nil {
			ro := newObject()
			ro.int("checkpoint", r.Checkpoint)
			ro.str("mode", r.Mode.String())
			if len(r.Refs) > 0 {
				ro.raw("refs", appendRefs(nil, r.Refs))
			}
			o.raw("restore", ro.bytes())
		}
	case fsm.EvTrigger:
		o.str("kind", ev.Kind.String())
	case fsm.EvAck, fsm.EvDecline:
		o.int("checkpoint", ev.Checkpoint)
		if err := task(); err != nil {
			return nil, err
		}
		if ev.Type == fsm.EvDecline && ev.Reason != "" {
			o.str("reason", string(ev.Reason))
		}
		if ev.StateSize != 0 {
			o.int("state_size", ev.StateSize)
		}
		if ev.CheckpointedSize != 0 {
			o.int("checkpointed_size", ev.CheckpointedSize)
		}
		if !h.IsZero() {
			o.raw("state", AppendStateHandle(nil, h))
		}
	case fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished:
		if err := task(); err != nil {
			return nil, err
		}
	case fsm.EvPersisted, fsm.EvPersistFailed:
		o.int("checkpoint", ev.Checkpoint)
	case fsm.EvConfigPatch:
		o.int("request", ev.Request)
		if ev.HasInterval {
			o.int("interval_ms", ev.IntervalMs)
		}
		if ev.HasTimeout {
			o.int("timeout_ms", ev.TimeoutMs)
		}
	case fsm.EvConfigPersisted:
		o.int("request", ev.Request)
	}
	if effects != nil {
		o.raw("effects", appendEffects(t, effects))
	}
	return o.bytes(), nil
}

func appendEffects(t *fsm.Topology, effects []fsm.Effect) []byte {
	b := []byte{'['}
	for i, e := range effects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, EncodeEffect(t, e)...)
	}
	return append(b, ']')
}

// appendRefs renders region references as {"r1":3,...} in the order given.
func appendRefs(b []byte, refs []fsm.RegionRef) []byte {
	o := &jsonObject{b: append(b, '{')}
	for _, r := range refs {
		o.int(fsm.RegionName(r.Region), r.Checkpoint)
	}
	return o.bytes()
}

// Writer writes a history: the header when created, then one line per event.
// Each line goes out in a single Write, so a crash leaves at most one torn line
// at the end (a flight recorder's file stays readable up to it).
type Writer struct {
	w    io.Writer
	topo *fsm.Topology
}

// NewWriter validates the header (job and configuration, as Decode would) and
// writes it.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	topo, err := fsm.NewTopology(h.Job)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if err := h.Config.Validate(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if h.Format != "" && h.Format != Format && h.Format != FormatResume && h.Format != FormatState && h.Format != FormatSnapshot {
		return nil, fmt.Errorf("history: format %q is not supported (want %q, %q, %q or %q)", h.Format, Format, FormatResume, FormatState, FormatSnapshot)
	}
	line, err := EncodeHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	return &Writer{w: w, topo: topo}, nil
}

// Topology returns the job the writer's header describes.
func (w *Writer) Topology() *fsm.Topology { return w.topo }

// WriteEvent writes one event line; effects != nil records them with it.
func (w *Writer) WriteEvent(ev fsm.Event, effects []fsm.Effect) error {
	if w == nil || w.w == nil {
		return errors.New("history: WriteEvent on a nil Writer")
	}
	line, err := EncodeEvent(w.topo, ev, effects)
	if err != nil {
		return err
	}
	_, err = w.w.Write(append(line, '\n'))
	return err
}
