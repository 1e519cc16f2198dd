package transport

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// noReadIndexFor is how long a target that did not answer ReadIndex is
// answered for locally, without sending it another: each attempt costs the
// hashicorp node an ERROR line in its log. Short, so a node replaced by a
// Pontoon one at the same address (a rolling migration) is asked again soon.
const noReadIndexFor = 10 * time.Second

// ReadIndex implements WithReadIndex (a Pontoon extension). A hashicorp/raft
// node does not answer it: it closes the connection as soon as it reads the
// type byte. When a connection closes before any byte of the reply, the
// request is retried once on a newly dialled connection (a pooled one may
// simply have been idled out by the peer); if that one closes the same way,
// the error wraps raft.ErrReadIndexUnsupported and the target is remembered
// (ReadIndexUnsupported) for a short while, during which ReadIndex to it
// fails at once without sending.
func (n *NetworkTransport) ReadIndex(id raft.ServerID, target raft.ServerAddress, args *ReadIndexRequest, resp *ReadIndexResponse) error {
	if err := n.ReadIndexUnsupported(id, target); err != nil {
		return err
	}
	key := poolKey{target: n.resolve(id, target)}
	closed, err := n.readIndexOnce(key, false, args, resp)
	if !closed {
		return err
	}
	if closed, err = n.readIndexOnce(key, true, args, resp); !closed {
		return err
	}
	n.mu.Lock()
	if n.mu.noReadIndex == nil {
		n.mu.noReadIndex = make(map[raft.ServerAddress]time.Time)
	}
	n.mu.noReadIndex[key.target] = time.Now()
	n.mu.Unlock()
	n.logger.Warn("peer closes the connection on ReadIndex without answering: it does not support ReadIndex (a hashicorp/raft node?); reads on this node fail until it does",
		"peer", id, "address", key.target)
	return fmt.Errorf("%w: %s closed the connection twice without answering (%v)", raft.ErrReadIndexUnsupported, key.target, err)
}

// ReadIndexUnsupported returns an error wrapping raft.ErrReadIndexUnsupported
// if ReadIndex to the server recently found that it does not answer
// ReadIndex, else nil. The engine asks it to fail a follower's read at once
// instead of retrying.
func (n *NetworkTransport) ReadIndexUnsupported(id raft.ServerID, target raft.ServerAddress) error {
	addr := n.resolve(id, target)
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.mu.noReadIndex[addr]
	if !ok {
		return nil
	}
	if time.Since(at) > noReadIndexFor {
		delete(n.mu.noReadIndex, addr)
		return nil
	}
	return fmt.Errorf("%w: %s closed the connection on ReadIndex without answering", raft.ErrReadIndexUnsupported, addr)
}

// readIndexOnce sends one ReadIndex on a pooled (or, if fresh, a newly
// dialled) connection. closed reports that the request was written and the
// peer closed the connection before any byte of a reply.
func (n *NetworkTransport) readIndexOnce(key poolKey, fresh bool, args *ReadIndexRequest, resp *ReadIndexResponse) (closed bool, err error) {
	var c *clientConn
	if !fresh {
		c = n.takePooled(key)
	}
	if c == nil {
		if c, err = n.dialConn(key); err != nil {
			return false, err
		}
	}
	_ = c.conn.SetDeadline(time.Now().Add(n.lim.timeout))
	if err := c.send(n, rpcReadIndex, args, true); err != nil {
		n.discardConn(c)
		// A pooled connection the peer closed fails here; the retry
		// finds out.
		return !fresh && !n.IsShutdown(), err
	}
	rpcErr, err := c.receive(n, resp)
	if err != nil {
		n.discardConn(c)
		return !n.IsShutdown() && closedBeforeReply(err), err
	}
	n.releaseConn(c)
	if rpcErr != "" {
		return false, errors.New(rpcErr)
	}
	return false, nil
}

// closedBeforeReply reports whether a reply read failed because the peer
// closed the connection before sending any of it.
func closedBeforeReply(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
