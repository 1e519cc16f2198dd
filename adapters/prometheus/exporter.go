package prometheus

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultExpiration is how long a series stays on /metrics without an
// update, as in go-metrics' sink.
const DefaultExpiration = 60 * time.Second

// Options configures an Exporter. The zero value is a good default.
type Options struct {
	// ServiceName is prepended to every key ("consul" gives
	// consul_raft_commitTime). Empty gives raft_commitTime.
	ServiceName string
	// Registry receives the sink. Nil creates a registry of this Exporter's
	// own, with the Go runtime and process collectors. A shared registry
	// must also be a prometheus.Gatherer to be served by Handler (a
	// *prometheus.Registry is); for several Exporters on one registry give
	// each its own SinkName.
	Registry promclient.Registerer
	// SinkName names the sink's collector in the registry. Empty means
	// "pontoon_prometheus_sink".
	SinkName string
	// Expiration is how long a series lives without an update: 0 means
	// DefaultExpiration, a negative value means forever. Expired series
	// disappear from /metrics and start again from zero when next updated.
	Expiration time.Duration
	// Global also installs the metrics as go-metrics' global instance
	// (metrics.NewGlobal), where a raftimpl.Config with nil Metrics sends
	// them. Close then puts a discarding instance back.
	Global bool
	// Configure, if set, may change the go-metrics Config before use
	// (allowed/blocked prefixes, type prefixes, ...). The defaults here:
	// metrics.DefaultConfig(ServiceName) without hostname prefixes (they
	// would put the host name into gauge names) and without go-metrics'
	// runtime metrics (the registry's Go collector has better ones, and
	// go-metrics' collector goroutine cannot be stopped).
	Configure func(*metrics.Config)
}

// Exporter holds a go-metrics instance writing into a Prometheus sink and
// the HTTP handler serving that sink.
type Exporter struct {
	metrics  *metrics.Metrics
	sink     *gmprom.PrometheusSink
	reg      promclient.Registerer
	handler  http.Handler
	global   bool
	closeOne sync.Once
}

// New builds an Exporter. It fails if the registry refuses the sink (for
// example a second sink with the same SinkName on a shared registry) or if
// Options.Configure turned on go-metrics' runtime metrics.
func New(opts Options) (*Exporter, error) {
	reg := opts.Registry
	if reg == nil {
		r := promclient.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	gatherer, ok := reg.(promclient.Gatherer)
	if !ok {
		return nil, errors.New("prometheus: Options.Registry is not a prometheus.Gatherer; Handler could not serve it")
	}
	name := opts.SinkName
	if name == "" {
		name = "pontoon_prometheus_sink"
	}
	exp := opts.Expiration
	switch {
	case exp == 0:
		exp = DefaultExpiration
	case exp < 0:
		exp = 0 // the sink's "never"
	}
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Expiration: exp, Registerer: reg, Name: name})
	if err != nil {
		return nil, fmt.Errorf("prometheus: registering the go-metrics sink %q: %w", name, err)
	}
	mc := metrics.DefaultConfig(opts.ServiceName)
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = false
	if opts.Configure != nil {
		opts.Configure(mc)
	}
	if mc.EnableRuntimeMetrics {
		reg.Unregister(sink)
		return nil, errors.New("prometheus: go-metrics' runtime metrics start a goroutine that never stops; use the registry's Go collector")
	}
	var m *metrics.Metrics
	if opts.Global {
		m, err = metrics.NewGlobal(mc, sink)
	} else {
		m, err = metrics.New(mc, sink)
	}
	if err != nil {
		reg.Unregister(sink)
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	// ContinueOnError: one inconsistent series (two kinds under one name)
	// must not take the whole page down.
	h := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return &Exporter{metrics: m, sink: sink, reg: reg, handler: h, global: opts.Global}, nil
}

// Metrics returns the go-metrics instance to put into raftimpl.Config.Metrics
// (or to write a service's own metrics to).
func (e *Exporter) Metrics() *metrics.Metrics { return e.metrics }

// Sink returns the underlying go-metrics Prometheus sink.
func (e *Exporter) Sink() *gmprom.PrometheusSink { return e.sink }

// Handler serves the registry in Prometheus' text (or negotiated) format;
// mount it at /metrics.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Close removes the sink from the registry and, if the Exporter installed
// the global go-metrics instance, replaces it with one that discards. It is
// safe to call more than once. Metrics written afterwards are dropped.
func (e *Exporter) Close() error {
	e.closeOne.Do(func() {
		e.reg.Unregister(e.sink)
		if e.global {
			mc := metrics.DefaultConfig("")
			mc.EnableHostname, mc.EnableRuntimeMetrics = false, false
			_, _ = metrics.NewGlobal(mc, &metrics.BlackholeSink{}) // cannot fail with these arguments
		}
	})
	return nil
}
