package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	promexp "github.com/pontoon-raft/raft/adapters/prometheus"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// The hashicorp way: a service installs go-metrics' global instance (here
// through the Prometheus adapter) and leaves raftimpl.Config.Metrics nil;
// the raft_* series reach /metrics.
func TestGlobalMetricsReachPrometheus(t *testing.T) {
	exp, err := promexp.New(promexp.Options{Global: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	conf := raftimpl.DefaultConfig()
	conf.LocalID = "solo"
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	store := logstore.NewInmemStore()
	addr, trans := transport.NewInmemTransport("")
	r, err := raftimpl.NewRaft(conf, newFSM(), store, store, snapshot.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Shutdown().Error(); err != nil {
			t.Error(err)
		}
	}()
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "solo", Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Apply([]byte(`{"op":"set","key":"a","value":"MQ=="}`), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	series := metricsSeries(rec.Body.String())
	for _, name := range []string{"raft_apply", "raft_commitTime", "raft_fsm_apply", "raft_state_leader"} {
		if !series[name] {
			t.Errorf("no %s on /metrics with Config.Metrics nil and the global instance installed", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepRaft(rec.Body.String()))
	}
}

func grepRaft(page string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, "raft_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
