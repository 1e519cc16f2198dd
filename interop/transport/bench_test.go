package transport

import (
	"fmt"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

// BenchmarkPipelinedAppendEntries measures pipelined AppendEntries round
// trips on loopback, client and server of the same implementation in one
// process, so allocs/op counts both ends. Each request carries 64 entries
// of the given size. Both transports run with their default
// MaxRPCsInFlight (2) unless the name says otherwise.
//
//	go test -run '^$' -bench PipelinedAppendEntries -count 5 ./transport/
func BenchmarkPipelinedAppendEntries(b *testing.B) {
	for _, size := range []int{16, 1024} {
		name := fmt.Sprintf("%dB", size)
		if size >= 1024 {
			name = fmt.Sprintf("%dKiB", size/1024)
		}
		b.Run("entries=64x"+name+"/impl=hashicorp", func(b *testing.B) { benchHashicorp(b, size, 0) })
		b.Run("entries=64x"+name+"/impl=pontoon", func(b *testing.B) { benchPontoon(b, size, 0) })
		b.Run("entries=64x"+name+"/impl=pontoon-inflight16", func(b *testing.B) { benchPontoon(b, size, 16) })
	}
}

func benchRequest(size int) *pt.AppendEntriesRequest {
	logs := make([]*raft.Log, 64)
	now := time.Now()
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(1000 + i), Term: 5, Type: raft.LogCommand, Data: make([]byte, size), AppendedAt: now}
	}
	return &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 5, Leader: []byte("127.0.0.1:7000"),
		PrevLogEntry: 999, PrevLogTerm: 5, Entries: logs, LeaderCommitIndex: 999}
}

func benchPontoon(b *testing.B, size, inFlight int) {
	srv := newPontoon(b, 0)
	cli := newPontoon(b, inFlight)
	resp := &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 5, LastLog: 1063, Success: true}
	serveLoop(b, srv.Consumer(), func(rpc pt.RPC) { rpc.Respond(resp, nil) })
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req := benchRequest(size)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
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
		if _, err := p.AppendEntries(req, &pt.AppendEntriesResponse{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rt/s")
}

func benchHashicorp(b *testing.B, size, inFlight int) {
	srv := newHashi(b, 0)
	cli := newHashi(b, inFlight)
	resp := toHashi(&pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 5, LastLog: 1063, Success: true})
	serveLoop(b, srv.Consumer(), func(rpc hraft.RPC) { rpc.Respond(resp, nil) })
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req := toHashi(benchRequest(size)).(*hraft.AppendEntriesRequest)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
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
		if _, err := p.AppendEntries(req, &hraft.AppendEntriesResponse{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rt/s")
}
