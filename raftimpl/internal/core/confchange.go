package core

// ProposeConfChange appends a configuration entry applying cc to the latest
// configuration and returns its index.
func (c *Core) ProposeConfChange(cc ConfChange) (index uint64, err error) {
	return 0, ErrConfChangePending
}
