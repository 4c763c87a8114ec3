package timeline

import (
	"io"
	"strconv"

	"github.com/ckptcore/ckptcore/history"
)

// Replay replays a history (every invariant checked) into a new Builder; the
// violations go to the summary. The replay's result comes back too.
func Replay(r *history.Reader, maxCheckpoints int) (*Builder, *history.Result, error) {
	b := NewBuilder(r.Topology(), r.Header().Config, maxCheckpoints)
	res, err := history.ReplayReader(r, history.Options{Check: true, CountsOnly: true, Observe: b.Step})
	if err != nil {
		return nil, nil, err
	}
	for _, v := range res.Summary.Violations {
		b.AddViolation(v.Invariant + " at line " + strconv.Itoa(v.Line) + " (" + v.Event + "): " + v.Detail)
	}
	return b, res, nil
}

// Write replays a history and writes its page.
func Write(w io.Writer, r *history.Reader, opts Options) (*history.Result, error) {
	b, res, err := Replay(r, 0)
	if err != nil {
		return nil, err
	}
	return res, b.Render(w, opts)
}
