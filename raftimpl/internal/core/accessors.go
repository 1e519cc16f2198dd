package core

// Cheap accessors for the driver's hot path: Status copies configurations
// and progress, which the driver needs only when they change.

// Term returns the current term.
func (c *Core) Term() uint64 { return c.term }

// LastTerm returns the term of the last entry (durable or not).
func (c *Core) LastTerm() uint64 {
	t, _ := c.log.term(c.log.lastIndex())
	return t
}

// ConfigurationIndexes returns the indexes of the latest and the committed
// configurations; Status has the configurations themselves.
func (c *Core) ConfigurationIndexes() (latest, committed uint64) {
	return c.conf.latestIndex(), c.conf.committedIndex
}
