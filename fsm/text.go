package fsm

import "strconv"

// msg builds the text of an effect (an abort's detail, a warning, a
// refusal) without fmt (issue 17): fmt.Sprintf boxed its arguments and
// walked its format on every abort, gate refusal and trigger failure the
// explorer computes. Callers start from a buffer on their stack,
//
//	var buf [96]byte
//	detail := msg(buf[:0]).s("subsumed by checkpoint ").d(id).String()
//
// and the one allocation left is the string. Each method spells its value
// as the fmt verb named on it; the goldens and examples pin every message
// byte for byte, and TestMsgSpellsLikeFmt the verbs.
type msg []byte

// s appends a string (%s).
func (m msg) s(x string) msg { return append(m, x...) }

// d appends an integer in decimal (%d).
func (m msg) d(x int64) msg { return strconv.AppendInt(m, x, 10) }

// g appends a float as %g does (the shortest representation); prec ≥ 0 is
// %.<prec>g.
func (m msg) g(x float64, prec int) msg { return strconv.AppendFloat(m, x, 'g', prec, 64) }

// region appends a region's name, as RegionName spells it.
func (m msg) region(r int) msg { return m.s("r").d(int64(r)) }

// task appends a subtask's name, as Topology.TaskName spells it.
func (m msg) task(t *Topology, id TaskID) msg {
	v := &t.vertices[t.vertexOf(id)]
	return m.s(v.ID).s("/").d(int64(id - v.First))
}

// String returns the text.
func (m msg) String() string { return string(m) }
