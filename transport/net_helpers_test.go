package transport

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	raft "github.com/pontoon-raft/raft"
)

// logBuffer is a concurrency-safe log sink tests can inspect.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestTransport starts a TCP transport on loopback; cfg may adjust the
// config. It is closed when the test ends.
func newTestTransport(t testing.TB, cfg func(*NetworkTransportConfig)) (*NetworkTransport, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	c := &NetworkTransportConfig{
		MaxPool: 3,
		Timeout: 5 * time.Second,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logs, Level: hclog.Debug}),
	}
	if cfg != nil {
		cfg(c)
	}
	tr, err := NewTCPTransportWithConfig("127.0.0.1:0", nil, c)
	if err != nil {
		t.Fatalf("NewTCPTransportWithConfig: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr, logs
}

// serve answers every RPC on tr's consumer with handle until the test ends.
// Cleanup order: the server loop stops after the transports close (cleanups
// run last-in first-out, so call serve after newTestTransport).
func serve(t testing.TB, tr *NetworkTransport, handle func(rpc RPC)) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case rpc := <-tr.Consumer():
				handle(rpc)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func header(id string, addr raft.ServerAddress) RPCHeader {
	return RPCHeader{ProtocolVersion: 3, ID: []byte(id), Addr: []byte(addr)}
}

// sampleLogs returns n entries with distinct fields, data of size bytes.
func sampleLogs(n, size int) []*raft.Log {
	out := make([]*raft.Log, n)
	for i := range out {
		data := bytes.Repeat([]byte{byte(i)}, size)
		var ext []byte
		if i%2 == 0 {
			ext = []byte("ext")
		}
		out[i] = &raft.Log{
			Index:      uint64(100 + i),
			Term:       7,
			Type:       raft.LogType(i % 6),
			Data:       data,
			Extensions: ext,
			AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6+i, time.UTC),
		}
	}
	return out
}

// serveBatches answers RPCs like an engine that persists in batches: it
// waits for one RPC, takes every other one already waiting, then handles
// them all in order.
func serveBatches(t testing.TB, tr *NetworkTransport, handle func(rpc RPC)) {
	t.Helper()
	serve(t, tr, func(first RPC) {
		batch := []RPC{first}
		for more := true; more; {
			select {
			case rpc := <-tr.Consumer():
				batch = append(batch, rpc)
			default:
				more = false
			}
		}
		for _, rpc := range batch {
			handle(rpc)
		}
	})
}

// ioStats counts the Read and Write calls on connections of ioCountingStream
// layers (each one a syscall on TCP, unless it would block).
type ioStats struct {
	reads, writes atomic.Int64
	cpuStart      time.Duration
}

func (s *ioStats) reset() {
	s.reads.Store(0)
	s.writes.Store(0)
	s.cpuStart = processCPU()
}

// report adds reads/op, writes/op and cpu-ns/op (the process's user and
// system time since reset: on a shared machine a steadier measure of work
// than wall time) to a benchmark's results.
func (s *ioStats) report(b *testing.B) {
	b.ReportMetric(float64(s.reads.Load())/float64(b.N), "reads/op")
	b.ReportMetric(float64(s.writes.Load())/float64(b.N), "writes/op")
	b.ReportMetric(float64(processCPU()-s.cpuStart)/float64(b.N), "cpu-ns/op")
}

// ioCountingStream is a TCP stream layer whose connections count their I/O
// calls in stats.
type ioCountingStream struct {
	*TCPStreamLayer
	stats *ioStats
}

func (s *ioCountingStream) Accept() (net.Conn, error) {
	c, err := s.TCPStreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return &ioCountingConn{Conn: c, stats: s.stats}, nil
}

func (s *ioCountingStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.TCPStreamLayer.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	return &ioCountingConn{Conn: c, stats: s.stats}, nil
}

type ioCountingConn struct {
	net.Conn
	stats *ioStats
}

func (c *ioCountingConn) Read(p []byte) (int, error) {
	c.stats.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *ioCountingConn) Write(p []byte) (int, error) {
	c.stats.writes.Add(1)
	return c.Conn.Write(p)
}

// newCountingTransport is newTestTransport over a ioCountingStream.
func newCountingTransport(t testing.TB, stats *ioStats, cfg func(*NetworkTransportConfig)) *NetworkTransport {
	t.Helper()
	tcp, err := NewTCPStreamLayer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("NewTCPStreamLayer: %v", err)
	}
	c := &NetworkTransportConfig{
		Stream:  &ioCountingStream{TCPStreamLayer: tcp, stats: stats},
		MaxPool: 3,
		Timeout: 5 * time.Second,
		Logger:  hclog.NewNullLogger(),
	}
	if cfg != nil {
		cfg(c)
	}
	tr := NewNetworkTransportWithConfig(c)
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}
