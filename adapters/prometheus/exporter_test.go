package prometheus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	promclient "github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/pontoon-raft/raft/adapters/prometheus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape serves h and returns the /metrics page.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	return string(body)
}

// wantLines fails unless every line appears in page (exactly, as a line).
func wantLines(t *testing.T, page string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(page, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing line %q in /metrics:\n%s", l, page)
		}
	}
}

// The names a Prometheus user of hashicorp/raft queries: keys joined with
// "_", labels kept as labels, timers as summaries in milliseconds.
func TestHashicorpRaftNames(t *testing.T) {
	exp, err := prometheus.New(prometheus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	m := exp.Metrics()
	m.IncrCounter([]string{"raft", "apply"}, 1)
	m.IncrCounter([]string{"raft", "apply"}, 2)
	m.AddSample([]string{"raft", "commitTime"}, 4)
	m.MeasureSinceWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, time.Now().Add(-3*time.Millisecond),
		[]metrics.Label{{Name: "peer_id", Value: "node-2"}})
	m.SetGaugeWithLabels([]string{"raft", "peers"}, 3, []metrics.Label{{Name: "cluster", Value: "a"}})
	m.IncrCounterWithLabels([]string{"raft", "net", "rpcDecode"}, 1, []metrics.Label{{Name: "rpcType", Value: "AppendEntries"}})

	page := scrape(t, exp.Handler())
	wantLines(t, page,
		"# TYPE raft_apply counter",
		"raft_apply 3",
		"# TYPE raft_commitTime summary",
		`raft_commitTime{quantile="0.5"} 4`,
		"raft_commitTime_count 1",
		"raft_commitTime_sum 4",
		"# TYPE raft_replication_appendEntries_rpc summary",
		`raft_replication_appendEntries_rpc_count{peer_id="node-2"} 1`,
		"# TYPE raft_peers gauge",
		`raft_peers{cluster="a"} 3`,
		`raft_net_rpcDecode{rpcType="AppendEntries"} 1`,
	)
	// The timer is in milliseconds (go-metrics' TimerGranularity).
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, `raft_replication_appendEntries_rpc_sum{peer_id="node-2"} `) {
			v := strings.TrimPrefix(l, `raft_replication_appendEntries_rpc_sum{peer_id="node-2"} `)
			if !strings.HasPrefix(v, "3") || strings.Contains(v, "e") {
				t.Errorf("timer recorded %s, want about 3 (ms)", v)
			}
		}
	}
	// The registry of its own carries Go's runtime metrics; no hostname
	// prefix and no go-metrics runtime gauges.
	if !strings.Contains(page, "\ngo_goroutines ") {
		t.Errorf("no go_goroutines in /metrics")
	}
	if strings.Contains(page, "runtime_num_goroutines") {
		t.Errorf("go-metrics runtime metrics are on")
	}
}

func TestServiceNamePrefix(t *testing.T) {
	exp, err := prometheus.New(prometheus.Options{ServiceName: "consul"})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	exp.Metrics().SetGauge([]string{"raft", "leader", "oldestLogAge"}, 12)
	wantLines(t, scrape(t, exp.Handler()), "consul_raft_leader_oldestLogAge 12")
}

// Global installs the instance hashicorp-style services (and a
// raftimpl.Config with nil Metrics) write to; Close puts a discarding one
// back.
func TestGlobal(t *testing.T) {
	exp, err := prometheus.New(prometheus.Options{Global: true})
	if err != nil {
		t.Fatal(err)
	}
	metrics.IncrCounterWithLabels([]string{"raft", "state", "leader"}, 1, nil)
	wantLines(t, scrape(t, exp.Handler()), "raft_state_leader 1")
	exp.Close()
	exp.Close() // idempotent
	metrics.IncrCounter([]string{"raft", "state", "leader"}, 1)
	if page := scrape(t, exp.Handler()); strings.Contains(page, "raft_state_leader") {
		t.Errorf("global metrics still written to the closed exporter:\n%s", page)
	}
}

// Two exporters on one shared registry need two sink names; Close frees
// the name.
func TestSharedRegistry(t *testing.T) {
	reg := promclient.NewRegistry()
	a, err := prometheus.New(prometheus.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prometheus.New(prometheus.Options{Registry: reg}); err == nil {
		t.Fatal("second sink with the same name on one registry: no error")
	}
	b, err := prometheus.New(prometheus.Options{Registry: reg, SinkName: "second"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Metrics().IncrCounter([]string{"from", "a"}, 1)
	b.Metrics().IncrCounter([]string{"from", "b"}, 1)
	wantLines(t, scrape(t, b.Handler()), "from_a 1", "from_b 1")
	a.Close()
	c, err := prometheus.New(prometheus.Options{Registry: reg})
	if err != nil {
		t.Fatalf("after Close the sink name is still taken: %v", err)
	}
	c.Close()
}

// One key written as two kinds makes the registry report an error for it;
// the rest of the page is still served.
func TestInconsistentSeriesDoNotHideOthers(t *testing.T) {
	exp, err := prometheus.New(prometheus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	m := exp.Metrics()
	m.IncrCounter([]string{"clash"}, 1)
	m.SetGauge([]string{"clash"}, 1)
	m.IncrCounter([]string{"raft", "apply"}, 1)
	wantLines(t, scrape(t, exp.Handler()), "raft_apply 1")
}

// A 1 ms expiration drops an idle series; a negative one keeps it while
// the first one expires.
func TestExpiration(t *testing.T) {
	short, err := prometheus.New(prometheus.Options{Expiration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	never, err := prometheus.New(prometheus.Options{Expiration: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer never.Close()
	never.Metrics().IncrCounter([]string{"raft", "apply"}, 1)
	short.Metrics().IncrCounter([]string{"raft", "apply"}, 1)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(scrape(t, short.Handler()), "raft_apply") {
		if time.Now().After(deadline) {
			t.Fatal("series did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantLines(t, scrape(t, never.Handler()), "raft_apply 1")
}

func TestRuntimeMetricsRefused(t *testing.T) {
	_, err := prometheus.New(prometheus.Options{Configure: func(c *metrics.Config) { c.EnableRuntimeMetrics = true }})
	if err == nil || !strings.Contains(err.Error(), "runtime metrics") {
		t.Fatalf("err = %v, want a refusal naming the runtime metrics", err)
	}
}
