package transport

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

func quietLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: io.Discard, Level: hclog.Error})
}

// newPontoon starts a Pontoon TCP transport on loopback.
func newPontoon(tb testing.TB, inFlight int) *pt.NetworkTransport {
	tb.Helper()
	tr, err := pt.NewTCPTransportWithConfig("127.0.0.1:0", nil, &pt.NetworkTransportConfig{
		MaxPool: 3, Timeout: 10 * time.Second, MaxRPCsInFlight: inFlight, Logger: quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = tr.Close() })
	return tr
}

// newHashi starts a hashicorp TCP transport on loopback. Its Close does not
// close pooled client connections, so cleanup closes the streams first.
func newHashi(tb testing.TB, inFlight int) *hraft.NetworkTransport {
	tb.Helper()
	tr, err := hraft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &hraft.NetworkTransportConfig{
		MaxPool: 3, Timeout: 10 * time.Second, MaxRPCsInFlight: inFlight, Logger: quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		tr.CloseStreams()
		_ = tr.Close()
	})
	return tr
}

// serveLoop runs handle for every RPC from consumer until the test ends.
// Register it after the transport so it stops after the transport closes.
func serveLoop[R any](tb testing.TB, consumer <-chan R, handle func(R)) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case rpc := <-consumer:
				handle(rpc)
			case <-stop:
				return
			}
		}
	}()
	tb.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
}

// sampleLogs returns n entries with every field set; data of size bytes.
// Some have nil or empty Data/Extensions and zero AppendedAt, to check nil
// and empty survive the wire.
func sampleLogs(n, size int) []*raft.Log {
	out := make([]*raft.Log, n)
	for i := range out {
		l := &raft.Log{
			Index:      uint64(1000 + i),
			Term:       uint64(7 + i/10),
			Type:       raft.LogType(i % 6),
			Data:       bytes.Repeat([]byte{byte(i), 0xee}, size/2),
			Extensions: []byte{0xca, 0xfe, byte(i)},
			AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6+i, time.UTC),
		}
		switch i % 7 {
		case 1:
			l.Data = nil
		case 2:
			l.Data = []byte{}
		case 3:
			l.Extensions = nil
		case 4:
			l.AppendedAt = time.Time{}
		}
		out[i] = l
	}
	return out
}

func hdr(id, addr string) pt.RPCHeader {
	return pt.RPCHeader{ProtocolVersion: 3, ID: []byte(id), Addr: []byte(addr)}
}
