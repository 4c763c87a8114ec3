package fsm

// WithConfig returns a new core in s's state that decides under cfg from now
// on (what-if on a history that starts from a snapshot record: the same state,
// another configuration). It is the core DecodeSnapshot reads from s's
// snapshot with cfg in place of s's configuration, so every counter derived
// from the configuration (regional mode) is recomputed and the state is
// checked against cfg as a decoded snapshot is; a state cfg cannot hold is an
// error and s is unchanged. What s already decided stays as decided: pending
// checkpoints keep their deadlines and the regions failed for them, stored
// checkpoints their modes and references, the overrides in force (R63) stay
// in force over the new base values.
func (s *State) WithConfig(cfg Config) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := *s // AppendSnapshot only reads: a shallow copy is enough
	c.cfg = newJobConfig(cfg)
	return DecodeSnapshot(s.topo, c.AppendSnapshot(nil))
}
