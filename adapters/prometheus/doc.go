// Package prometheus exports Pontoon's metrics (and anything else written
// through hashicorp/go-metrics) to Prometheus.
//
// It wires go-metrics' own Prometheus sink (package
// github.com/hashicorp/go-metrics/prometheus) into a registry and serves it
// with promhttp, so the series carry the names Prometheus users of
// hashicorp/raft already query: go-metrics keys are joined with "_" and
// ".", " ", "=", "-", "/" become "_", labels stay labels. For example
//
//	raft.commitTime                                 -> raft_commitTime (summary, ms)
//	raft.replication.appendEntries.rpc + peer_id=n2 -> raft_replication_appendEntries_rpc{peer_id="n2"}
//	raft.apply                                      -> raft_apply (counter)
//
// Timers and samples become summaries (quantiles 0.5, 0.9 and 0.99 over
// the last 10 s, plus _sum and _count), counters counters and gauges gauges.
// With Options.ServiceName "consul" the names gain a "consul_" prefix, as in
// Consul's dashboards.
//
// Use it per node:
//
//	exp, err := prometheus.New(prometheus.Options{})
//	conf.Metrics = exp.Metrics()              // raftimpl.Config
//	http.Handle("/metrics", exp.Handler())
//	defer exp.Close()
//
// or set Options.Global to install the metrics as go-metrics' global
// instance, the way hashicorp/raft services do (metrics.NewGlobal).
//
// By default each Exporter has a registry of its own (with Go runtime and
// process collectors), so several nodes in one process each serve their
// own /metrics; Options.Registry shares one instead.
package prometheus
