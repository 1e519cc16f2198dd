package transport

import (
	"fmt"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

func benchEntries(size int) []*raft.Log {
	logs := make([]*raft.Log, 64)
	now := time.Now()
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Data: make([]byte, size), AppendedAt: now}
	}
	return logs
}

// BenchmarkWireAppendEntries measures the hand-written codec alone: encode
// and decode one AppendEntries of 64 entries.
func BenchmarkWireAppendEntries(b *testing.B) {
	for _, size := range []int{16, 1024} {
		req := &AppendEntriesRequest{RPCHeader: header("n1", "127.0.0.1:7000"), Term: 1, Leader: []byte("127.0.0.1:7000"), Entries: benchEntries(size)}
		frame, _ := appendAppendEntriesRequest(nil, req)
		b.Run(fmt.Sprintf("encode/%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			var buf []byte
			for i := 0; i < b.N; i++ {
				buf, _ = appendAppendEntriesRequest(buf[:0], req)
			}
		})
		b.Run(fmt.Sprintf("decode/%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for i := 0; i < b.N; i++ {
				var out AppendEntriesRequest
				if _, err := decodeAppendEntriesRequestFast(frame, &out, 1024, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNetPipeline measures pipelined AppendEntries round trips between
// two transports on loopback (the interop module compares with hashicorp).
func BenchmarkNetPipeline(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("64x%dB", size), func(b *testing.B) {
			stats := &ioStats{}
			srv := newCountingTransport(b, stats, nil)
			cli := newCountingTransport(b, stats, nil)
			resp := &AppendEntriesResponse{Term: 1, Success: true}
			serve(b, srv, func(rpc RPC) { rpc.Respond(resp, nil) })
			p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			req := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 1, PrevLogEntry: 1, Entries: benchEntries(size)}
			runPipeline(b, p, req, stats)
		})
	}
}

// BenchmarkNetPipelineBatched is BenchmarkNetPipeline with a server that
// answers like the engine does after one fsync: it takes every request
// already waiting, then responds to all of them. MaxRPCsInFlight is 16 so
// several requests are outstanding at once. writes/op and reads/op count
// the conn.Write and conn.Read calls of both ends per round trip, cpu-ns/op
// the process's CPU time (user and system) per round trip.
func BenchmarkNetPipelineBatched(b *testing.B) {
	stats := &ioStats{}
	srv := newCountingTransport(b, stats, nil)
	cli := newCountingTransport(b, stats, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 16 })
	resp := &AppendEntriesResponse{Term: 1, LastLog: 64, Success: true}
	serveBatches(b, srv, func(rpc RPC) { rpc.Respond(resp, nil) })
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 1, PrevLogEntry: 1, Entries: benchEntries(16)}
	runPipeline(b, p, req, stats)
}

// runPipeline sends req b.N times on p while another goroutine collects the
// replies, and reports the I/O and CPU counts.
func runPipeline(b *testing.B, p AppendPipeline, req *AppendEntriesRequest, stats *ioStats) {
	done := make(chan error, 1)
	b.ReportAllocs()
	stats.reset()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if err := (<-p.Consumer()).Error(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := p.AppendEntries(req, &AppendEntriesResponse{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	stats.report(b)
}

// BenchmarkNetHeartbeat measures heartbeat round trips (a pooled connection,
// the heartbeat handler, one request and one reply each).
func BenchmarkNetHeartbeat(b *testing.B) {
	stats := &ioStats{}
	srv := newCountingTransport(b, stats, nil)
	cli := newCountingTransport(b, stats, nil)
	resp := &AppendEntriesResponse{Term: 1, LastLog: 64, Success: true}
	srv.SetHeartbeatHandler(func(rpc RPC) { rpc.Respond(resp, nil) })
	req := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 1, Leader: []byte("a")}
	var out AppendEntriesResponse
	target := srv.LocalAddr()
	if err := cli.AppendEntries("n2", target, req, &out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	stats.reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cli.AppendEntries("n2", target, req, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stats.report(b)
}
