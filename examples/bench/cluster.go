package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// cluster is a running 3-node cluster of one engine, seen by the workload.
// Its methods are safe for concurrent use.
type cluster interface {
	// apply proposes cmd on the current leader and waits until it is
	// applied to the leader's FSM.
	apply(cmd []byte) error
	// read is a linearizable read of key on the leader by the named path
	// (one of the engine's readPaths).
	read(path string, key []byte) error
	// close shuts every node down and closes its stores and transport. It
	// returns once the engine's goroutines have been told to stop.
	close() error
}

// engine builds clusters of one implementation.
type engine struct {
	name string
	// readPaths are the linearizable read paths cluster.read offers.
	readPaths []readPath
	start     func(opts clusterOpts) (cluster, error)
}

// readPath is one way to do a linearizable read.
type readPath struct {
	Name  string `json:"name"`  // short name used in flags and tables
	Label string `json:"label"` // what it does
	// lease: the cluster must be started with lease reads enabled, so the
	// path's cells run on a cluster of their own.
	lease bool
	// inProcess: the path needs every node in the bench's process, so it
	// is skipped in -procs mode.
	inProcess bool
}

type clusterOpts struct {
	dir      string        // data directory for this cluster (one subdirectory per node)
	basePort int           // 0: ephemeral ports
	timeout  time.Duration // Apply/transport timeout
	elect    time.Duration // how long to wait for the first leader
	logw     io.Writer     // engine logs
	logLevel string        // engine log level (default WARN)
	// bootstrapOne bootstraps only the first node; the others learn the
	// configuration from the leader.
	bootstrapOne bool
	// leaseReads starts the cluster with lease reads enabled (Pontoon).
	leaseReads bool
	// ptStore is Pontoon's log store: "bolt" (BoltStore, the default) or
	// "segment" (SegmentStore).
	ptStore string
	// procs runs node2 and node3 in child processes (procs.go); node1,
	// alone bootstrapped, leads.
	procs bool
	// cpuprofile, if set in -procs mode, makes each child process write a
	// CPU profile next to it (childProfile).
	cpuprofile string
}

// errNoLeader is returned by start when no node became leader in time.
var errNoLeader = errors.New("no leader elected")

const keyLen = 16

// kvMap is the benchmark's state machine: command = 16-byte key followed by
// the value. Both engines' FSMs wrap the same kvMap, so they do identical
// work per entry: one copy of the value, one map assignment under a lock.
type kvMap struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func newKV() *kvMap { return &kvMap{m: make(map[string][]byte)} }

var errBadCommand = errors.New("kv: command shorter than its key")

func (k *kvMap) apply(data []byte) interface{} {
	if len(data) < keyLen {
		return errBadCommand
	}
	v := make([]byte, len(data)-keyLen)
	copy(v, data[keyLen:])
	k.mu.Lock()
	k.m[string(data[:keyLen])] = v
	k.mu.Unlock()
	return nil
}

func (k *kvMap) get(key []byte) ([]byte, bool) {
	k.mu.RLock()
	v, ok := k.m[string(key)]
	k.mu.RUnlock()
	return v, ok
}

// clone returns a point-in-time copy of the map (values are never mutated
// after insertion, so they are shared).
func (k *kvMap) clone() map[string][]byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	c := make(map[string][]byte, len(k.m))
	for key, v := range k.m {
		c[key] = v
	}
	return c
}

// writeKV writes m as a sequence of (uvarint len, key, uvarint len, value).
func writeKV(w io.Writer, m map[string][]byte) error {
	bw := bufio.NewWriter(w)
	var hdr [binary.MaxVarintLen64]byte
	for key, v := range m {
		bw.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(key)))])
		bw.WriteString(key)
		bw.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(v)))])
		if _, err := bw.Write(v); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func (k *kvMap) restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReader(rc)
	m := make(map[string][]byte)
	for {
		kl, err := binary.ReadUvarint(br)
		if err == io.EOF {
			break
		}
		if err != nil || kl > 1<<20 {
			return fmt.Errorf("kv snapshot: bad key length: %v", err)
		}
		key := make([]byte, kl)
		if _, err := io.ReadFull(br, key); err != nil {
			return fmt.Errorf("kv snapshot: %w", err)
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil || vl > 1<<30 {
			return fmt.Errorf("kv snapshot: bad value length: %v", err)
		}
		v := make([]byte, vl)
		if _, err := io.ReadFull(br, v); err != nil {
			return fmt.Errorf("kv snapshot: %w", err)
		}
		m[string(key)] = v
	}
	k.mu.Lock()
	k.m = m
	k.mu.Unlock()
	return nil
}

// sink is the part of both engines' SnapshotSink the FSM snapshot uses.
type sink interface {
	io.WriteCloser
	Cancel() error
}

func persistKV(m map[string][]byte, s sink) error {
	if err := writeKV(s, m); err != nil {
		s.Cancel()
		return err
	}
	return s.Close()
}

// addrFor returns node i's bind address.
func addrFor(basePort, i int) string {
	if basePort == 0 {
		return "127.0.0.1:0"
	}
	return fmt.Sprintf("127.0.0.1:%d", basePort+i)
}

// leaderTracker remembers the current leader's index among the nodes; a
// failed operation looks for the leader again.
type leaderTracker struct{ cur atomic.Int32 }

func (t *leaderTracker) get() int  { return int(t.cur.Load()) }
func (t *leaderTracker) set(i int) { t.cur.Store(int32(i)) }

// waitFor polls find every 10ms until it returns >= 0 or the timeout passes.
func waitFor(timeout time.Duration, find func() int) (int, bool) {
	deadline := time.Now().Add(timeout)
	for {
		if i := find(); i >= 0 {
			return i, true
		}
		if time.Now().After(deadline) {
			return -1, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shutdownAll runs fns concurrently, each bounded by timeout.
func shutdownAll(timeout time.Duration, fns []func() error) error {
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { errs <- fn() }()
	}
	var all []error
	deadline := time.After(timeout)
	for range fns {
		select {
		case err := <-errs:
			if err != nil {
				all = append(all, err)
			}
		case <-deadline:
			return errors.Join(append(all, fmt.Errorf("shutdown did not finish within %v", timeout))...)
		}
	}
	return errors.Join(all...)
}

// streamCloser is the part of both engines' NetworkTransport stopNode uses.
type streamCloser interface {
	Close() error
	CloseStreams()
}

// stopNode stops one node of either engine: its Raft (whose Shutdown also
// closes the transport) or, when it never started (shutdown nil), the
// transport alone; then the transport's pooled outbound connections
// (otherwise the peers' connection handlers stay blocked reading from them)
// and the store. trans may be nil.
func stopNode(shutdown func() error, trans streamCloser, store io.Closer) error {
	var err error
	if shutdown != nil {
		err = shutdown()
	} else if trans != nil {
		trans.Close()
	}
	if trans != nil {
		trans.CloseStreams()
	}
	if cerr := store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
