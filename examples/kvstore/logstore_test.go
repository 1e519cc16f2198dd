package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// -log-store segment: a server on SegmentStore takes writes and has them
// after a restart; a directory of one kind is refused under the other.
func TestLogStoreSegment(t *testing.T) {
	dir := t.TempDir()
	// The same addresses for the restart: the server finds its own
	// recorded HTTP address again.
	o := singleOptions(dir, "segment")
	addrs := freePorts(t, 2)
	o.raftAddr, o.httpAddr = addrs[0], addrs[1]
	_, base, stop := startSingleIn(t, o)
	if code, body := call(t, http.MethodPut, base+"/kv/k", []byte("v1")); code != http.StatusOK && code != http.StatusNoContent {
		stop()
		t.Fatalf("PUT: %d %s", code, body)
	}
	// The store's metrics under raft-wal's names, no raft-boltdb ones.
	code, page := call(t, http.MethodGet, base+"/metrics", nil)
	stop()
	series := metricsSeries(page)
	if code != http.StatusOK || !series["raft_wal_log_appends"] || !series["raft_wal_log_entries_written"] || series["raft_boltdb_storeLogs"] {
		t.Fatalf("/metrics on SegmentStore: %d; raft_wal_log_appends %v, raft_wal_log_entries_written %v, raft_boltdb_storeLogs %v",
			code, series["raft_wal_log_appends"], series["raft_wal_log_entries_written"], series["raft_boltdb_storeLogs"])
	}

	o2 := *o
	_, base, stop = startSingleIn(t, &o2)
	code, body := call(t, http.MethodGet, base+"/kv/k", nil)
	stop()
	if code != http.StatusOK || body != "v1" {
		t.Fatalf("GET after a restart on SegmentStore: %d %q, want 200 \"v1\"", code, body)
	}

	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	for _, c := range []struct{ dir, kind, want string }{
		{dir, "bolt", "holds a segment log store"},
		{t.TempDir(), "nosuch", "want bolt or segment"},
	} {
		n, err := startNode(singleOptions(c.dir, c.kind), logger)
		if err == nil {
			_ = n.shutdown(context.Background())
			t.Fatalf("-log-store %s on %s: started", c.kind, c.dir)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("-log-store %s: %v, want %q", c.kind, err, c.want)
		}
	}

	// And a bolt directory under -log-store segment.
	boltDir := t.TempDir()
	_, _, stop = startSingleIn(t, singleOptions(boltDir, "bolt"))
	stop()
	n, err := startNode(singleOptions(boltDir, "segment"), logger)
	if err == nil {
		_ = n.shutdown(context.Background())
		t.Fatal("-log-store segment on a bolt directory: started")
	}
	if !strings.Contains(err.Error(), "holds a bolt log store") {
		t.Errorf("-log-store segment on a bolt directory: %v", err)
	}
}
