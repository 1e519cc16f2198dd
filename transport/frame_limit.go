package transport

// MaxMessageSize returns the largest request or reply this transport sends
// or accepts, in bytes (NetworkTransportConfig.MaxMessageSize, or
// DefaultMaxMessageSize). The engine sizes its AppendEntries and its
// largest log entry to it.
func (n *NetworkTransport) MaxMessageSize() int { return n.lim.maxMessageSize }

// MaxAppendEntries returns the most entries one AppendEntries may carry on
// this transport (NetworkTransportConfig.MaxAppendEntries, or
// DefaultMaxAppendEntries). The engine never sends more.
func (n *NetworkTransport) MaxAppendEntries() int { return n.lim.maxAppendEntries }
