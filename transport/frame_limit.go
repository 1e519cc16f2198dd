package transport

// MaxMessageSize returns the largest request or reply this transport sends
// or accepts, in bytes (NetworkTransportConfig.MaxMessageSize, or
// DefaultMaxMessageSize). The engine sizes its AppendEntries and its
// largest log entry to it.
func (n *NetworkTransport) MaxMessageSize() int { return n.lim.maxMessageSize }
