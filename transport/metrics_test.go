package transport

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// newInmemMetrics returns a metrics instance recording into an in-memory
// sink, with hashicorp's key layout (no service, no hostname prefix).
func newInmemMetrics(t *testing.T) (*metrics.Metrics, *metrics.InmemSink) {
	t.Helper()
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false // it would start a goroutine
	m, err := metrics.New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	return m, sink
}

// sampleKeys returns the keys of every sample the sink holds.
func sampleKeys(sink *metrics.InmemSink) map[string]int {
	out := map[string]int{}
	for _, iv := range sink.Data() {
		for k, v := range iv.Samples {
			out[k] += v.Count
		}
	}
	return out
}

// callEveryType sends one request of every type from cli to srv.
func callEveryType(t *testing.T, cli, srv *NetworkTransport) {
	t.Helper()
	addr := srv.LocalAddr()
	h := header("n1", cli.LocalAddr())
	calls := []func() error{
		func() error {
			return cli.AppendEntries("n2", addr, &AppendEntriesRequest{RPCHeader: h, Term: 1}, &AppendEntriesResponse{})
		},
		func() error {
			return cli.AppendEntries("n2", addr, &AppendEntriesRequest{RPCHeader: h, Term: 1, PrevLogEntry: 1, PrevLogTerm: 1, Entries: sampleLogs(2, 8)}, &AppendEntriesResponse{})
		},
		func() error {
			return cli.RequestVote("n2", addr, &RequestVoteRequest{RPCHeader: h, Term: 1}, &RequestVoteResponse{})
		},
		func() error {
			return cli.RequestPreVote("n2", addr, &RequestPreVoteRequest{RPCHeader: h, Term: 1}, &RequestPreVoteResponse{})
		},
		func() error {
			return cli.TimeoutNow("n2", addr, &TimeoutNowRequest{RPCHeader: h}, &TimeoutNowResponse{})
		},
		func() error {
			return cli.ReadIndex("n2", addr, &ReadIndexRequest{RPCHeader: h, Term: 1}, &ReadIndexResponse{})
		},
		func() error {
			return cli.InstallSnapshot("n2", addr, &InstallSnapshotRequest{RPCHeader: h, Term: 1, Size: 100}, &InstallSnapshotResponse{}, bytes.NewReader(make([]byte, 100)))
		},
	}
	for i, c := range calls {
		if err := c(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// answerAll answers every request type.
func answerAll(rpc RPC) {
	switch rpc.Command.(type) {
	case *AppendEntriesRequest:
		rpc.Respond(&AppendEntriesResponse{Success: true}, nil)
	case *RequestVoteRequest:
		rpc.Respond(&RequestVoteResponse{}, nil)
	case *RequestPreVoteRequest:
		rpc.Respond(&RequestPreVoteResponse{}, nil)
	case *TimeoutNowRequest:
		rpc.Respond(&TimeoutNowResponse{}, nil)
	case *ReadIndexRequest:
		rpc.Respond(&ReadIndexResponse{}, nil)
	case *InstallSnapshotRequest:
		_, _ = io.Copy(io.Discard, rpc.Reader)
		rpc.Respond(&InstallSnapshotResponse{Success: true}, nil)
	}
}

var wantNetMetrics = func() []string {
	out := []string{"raft.net.getRPCType"}
	for _, k := range []string{"rpcDecode", "rpcEnqueue", "rpcRespond"} {
		for _, typ := range []string{"Heartbeat", "AppendEntries", "RequestVote", "RequestPreVote", "TimeoutNow", "ReadIndex", "InstallSnapshot"} {
			out = append(out, "raft.net."+k+";rpcType="+typ)
		}
	}
	return out
}()

func checkNetMetrics(t *testing.T, sink *metrics.InmemSink) {
	t.Helper()
	got := sampleKeys(sink)
	for _, k := range wantNetMetrics {
		want := 1
		if k == "raft.net.getRPCType" {
			want = len(wantNetMetrics) / 3 // one per request
		}
		if got[k] != want {
			var keys []string
			for k, n := range got {
				keys = append(keys, fmt.Sprintf("%s=%d", k, n))
			}
			sort.Strings(keys)
			t.Errorf("%s recorded %d times, want %d; have:\n%s", k, got[k], want, strings.Join(keys, "\n"))
		}
	}
}

// TestNetMetrics: one request of every type gives hashicorp's four
// raft.net timers, the last three labelled with the request's rpcType
// (Heartbeat for a heartbeat, whether or not a heartbeat handler takes it).
func TestNetMetrics(t *testing.T) {
	for _, handler := range []bool{false, true} {
		m, sink := newInmemMetrics(t)
		srv, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.Metrics = m })
		if handler {
			srv.SetHeartbeatHandler(answerAll)
		}
		serve(t, srv, answerAll)
		cli, _ := newTestTransport(t, nil)
		callEveryType(t, cli, srv)
		// rpcRespond is recorded after the reply is written, so the
		// client may see the reply first.
		waitFor(t, "the last reply's metric", func() bool {
			return allReplied(sampleKeys(sink))
		})
		checkNetMetrics(t, sink)
	}
}

// allReplied reports whether every request type that was enqueued also has
// its rpcRespond: that metric is recorded after the reply is written, on the
// request's own connection, so the client may see replies first.
func allReplied(keys map[string]int) bool {
	enq, resp := 0, 0
	for k := range keys {
		switch {
		case strings.HasPrefix(k, "raft.net.rpcEnqueue;"):
			enq++
		case strings.HasPrefix(k, "raft.net.rpcRespond;"):
			resp++
		}
	}
	return enq > 0 && resp == enq
}

// TestNetMetricsGlobal: with Config.Metrics nil the transport writes to
// go-metrics' global instance, as hashicorp/raft does, even one installed
// after the transport was created; while the global is still the library's
// initial black hole, the transport skips the timing.
func TestNetMetricsGlobal(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	serve(t, srv, answerAll)
	if metrics.Default() == pristineGlobal && srv.metricsFor() != nil {
		t.Fatal("metrics timed into the library's initial black hole")
	}
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(cfg, sink); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = metrics.NewGlobal(cfg, &metrics.BlackholeSink{})
	}()
	cli, _ := newTestTransport(t, nil)
	callEveryType(t, cli, srv)
	waitFor(t, "the last reply's metric", func() bool {
		return allReplied(sampleKeys(sink))
	})
	checkNetMetrics(t, sink)
}
