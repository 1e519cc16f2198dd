package transport

import (
	"bufio"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// poolKey names a pool of idle connections: one per target, and a separate
// one per target for heartbeats.
type poolKey struct {
	target    raft.ServerAddress
	heartbeat bool
}

// getConn returns a connection to target (after the address provider),
// pooled or newly dialled. The caller owns it until releaseConn or
// discardConn.
func (n *NetworkTransport) getConn(id raft.ServerID, target raft.ServerAddress, heartbeat bool) (*clientConn, error) {
	key := poolKey{target: n.resolve(id, target), heartbeat: heartbeat}
	if c := n.takePooled(key); c != nil {
		return c, nil
	}
	return n.dialConn(key)
}

// dialConn dials a new connection for key, owned by the caller.
func (n *NetworkTransport) dialConn(key poolKey) (*clientConn, error) {
	if n.IsShutdown() {
		return nil, raft.ErrTransportShutdown
	}
	conn, err := n.stream.Dial(key.target, n.lim.timeout)
	if err != nil {
		return nil, n.wrapIOErr(fmt.Errorf("dial %s: %w", key.target, err))
	}
	c := &clientConn{
		key:  key,
		conn: conn,
		br:   bufio.NewReaderSize(conn, connReadBufferSize),
	}
	n.mu.Lock()
	if n.mu.shutdown {
		n.mu.Unlock()
		_ = conn.Close()
		return nil, raft.ErrTransportShutdown
	}
	n.mu.clientConns[c] = struct{}{}
	n.mu.Unlock()
	return c, nil
}

// takePooled pops the most recently returned idle connection for key,
// closing any that sat idle long enough that the server may have dropped
// them.
func (n *NetworkTransport) takePooled(key poolKey) *clientConn {
	maxIdle := n.lim.idleTimeout / 2
	var stale []*clientConn
	defer func() {
		for _, c := range stale {
			_ = c.conn.Close()
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock()
	conns := n.mu.pool[key]
	for len(conns) > 0 {
		c := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		conns = conns[:len(conns)-1]
		if time.Since(c.lastUsed) > maxIdle {
			delete(n.mu.clientConns, c)
			stale = append(stale, c)
			continue
		}
		n.mu.pool[key] = conns
		return c
	}
	delete(n.mu.pool, key)
	return nil
}

// releaseConn returns a healthy connection to its pool, or closes it when
// the pool is full or the transport is shut down.
func (n *NetworkTransport) releaseConn(c *clientConn) {
	c.shrink()
	c.lastUsed = time.Now()
	n.mu.Lock()
	if !n.mu.shutdown && len(n.mu.pool[c.key]) < n.maxPool {
		n.mu.pool[c.key] = append(n.mu.pool[c.key], c)
		n.mu.Unlock()
		return
	}
	delete(n.mu.clientConns, c)
	n.mu.Unlock()
	_ = c.conn.Close()
}

// discardConn closes a connection that must not be reused.
func (n *NetworkTransport) discardConn(c *clientConn) {
	n.mu.Lock()
	delete(n.mu.clientConns, c)
	n.mu.Unlock()
	_ = c.conn.Close()
}
