package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	promexp "github.com/pontoon-raft/raft/adapters/prometheus"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// node is one kvstore server: a Raft node with its stores, the FSM, the
// metrics exporter and the HTTP API. startNode sets the fields up to
// httpLn and they do not change afterwards (handlers read them without a
// lock, even during a forced close).
type node struct {
	opts   *options
	logger hclog.Logger
	fsm    *fsm
	raft   *raftimpl.Raft
	store  nodeStore
	bolt   *logstore.BoltStore // store, if it is a BoltStore (its metrics)
	trans  *transport.NetworkTransport
	exp    *promexp.Exporter
	http   *http.Server
	client *http.Client // to other nodes' APIs (forwarding, join)

	raftAddr string // advertised Raft address
	httpAddr string // advertised HTTP address (host:port)
	tls      *tls.Config
	httpLn   net.Listener

	stopStoreMetrics context.CancelFunc // ends the store's RunMetrics
	storeMetricsDone chan struct{}      // closed when RunMetrics returned

	// wasMember is set once this server saw itself in the configuration
	// (or joined); only maintain's goroutine uses it.
	wasMember    bool
	joinFailures int // failed join rounds so far; maintain's goroutine only
	// left is closed when this server left the cluster (POST /leave of
	// itself, or Raft shut down after a removal).
	left     chan struct{}
	leftOnce sync.Once

	closeOnce sync.Once
}

// nodeStore is what a server needs of its log store.
type nodeStore interface {
	logstore.LogStore
	logstore.StableStore
	Close() error
}

// openStore opens the log store -log-store names in the data directory:
// raft.db (BoltStore) or log/ (SegmentStore). A directory that holds the
// other kind is refused: opening it would start the server with an empty
// log beside its snapshots.
func (n *node) openStore() error {
	boltPath := filepath.Join(n.opts.dataDir, "raft.db")
	segDir := filepath.Join(n.opts.dataDir, "log")
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	switch n.opts.logStore {
	case "", "bolt":
		if exists(segDir) {
			return fmt.Errorf("-log-store bolt, but %s holds a segment log store (start with -log-store segment)", segDir)
		}
		s, err := logstore.New(logstore.Options{Path: boltPath, Logger: n.logger.Named("store"), Metrics: n.exp.Metrics()})
		if err != nil {
			return err
		}
		n.store, n.bolt = s, s
	case "segment":
		if exists(boltPath) {
			return fmt.Errorf("-log-store segment, but %s holds a bolt log store (start with -log-store bolt)", boltPath)
		}
		s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: segDir, Metrics: n.exp.Metrics()})
		if err != nil {
			return err
		}
		n.store = s
	default:
		return fmt.Errorf("-log-store %q: want bolt or segment", n.opts.logStore)
	}
	return nil
}

// startNode opens the stores under the data directory, starts Raft (and
// bootstraps a new single-server cluster if asked and the stores are
// empty) and starts serving the HTTP API. On error everything it opened is
// closed again.
func startNode(opts *options, logger hclog.Logger) (_ *node, err error) {
	n := &node{opts: opts, logger: logger, fsm: newFSM(), left: make(chan struct{})}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.tls, err = loadTLS(opts); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.dataDir, 0o750); err != nil {
		return nil, err
	}
	// One server per process: the exporter is also go-metrics' global
	// instance, so parts that report there (anything given no
	// *metrics.Metrics of its own) show up on /metrics too.
	n.exp, err = promexp.New(promexp.Options{Global: true})
	if err != nil {
		return nil, err
	}
	if err := n.openStore(); err != nil {
		return nil, err
	}
	if n.bolt != nil {
		storeCtx, stopStoreMetrics := context.WithCancel(context.Background())
		n.storeMetricsDone = make(chan struct{})
		n.stopStoreMetrics = stopStoreMetrics
		go func() {
			defer close(n.storeMetricsDone)
			n.bolt.RunMetrics(storeCtx, 0) // raft.boltdb.* gauges of bbolt's state
		}()
	}
	snaps, err := snapshot.NewFileSnapshotStoreWithLogger(opts.dataDir, 2, logger.Named("snapshots"))
	if err != nil {
		return nil, err
	}
	if n.trans, err = n.newTransport(); err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", opts.raftAddr, err)
	}
	n.raftAddr = string(n.trans.LocalAddr())

	conf := raftimpl.DefaultConfig()
	conf.LocalID = raft.ServerID(opts.id)
	conf.Logger = logger.Named("raft")
	conf.Metrics = n.exp.Metrics()
	conf.SnapshotThreshold = opts.snapshotThreshold
	conf.SnapshotInterval = opts.snapshotInterval
	conf.TrailingLogs = opts.trailingLogs

	existing, err := raftimpl.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", opts.dataDir, err)
	}
	if opts.bootstrap && !existing {
		c := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: raft.ServerAddress(n.raftAddr)}}}
		if err := raftimpl.BootstrapCluster(conf, n.store, n.store, snaps, n.trans, c); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		logger.Info("bootstrapped a new cluster", "id", opts.id, "raft_addr", n.raftAddr)
	} else if opts.bootstrap {
		logger.Info("existing state found; not bootstrapping again", "data_dir", opts.dataDir)
	}
	if n.raft, err = raftimpl.NewRaft(conf, n.fsm, n.store, n.store, snaps, n.trans); err != nil {
		return nil, err
	}

	if n.httpLn, err = net.Listen("tcp", opts.httpAddr); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	n.httpAddr = opts.httpAdvertise
	if n.httpAddr == "" {
		n.httpAddr = n.httpLn.Addr().String()
	}
	if err := checkAdvertisable(n.httpAddr); err != nil {
		return nil, fmt.Errorf("http address %s: %w (set -http-advertise)", n.httpAddr, err)
	}
	n.client = &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: n.tls, MaxIdleConnsPerHost: 16},
		// Forwarded requests are relayed as they are, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	n.http = &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	ln := n.httpLn
	if n.tls != nil {
		ln = tls.NewListener(ln, n.httpServerTLS())
	}
	srv := n.http
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "error", err)
		}
	}()
	logger.Info("serving", "id", opts.id, "http", n.scheme()+"://"+n.httpAddr, "raft", n.raftAddr,
		"data_dir", opts.dataDir, "existing_state", existing)
	return n, nil
}

// newTransport returns the TCP transport, over TLS if configured.
func (n *node) newTransport() (*transport.NetworkTransport, error) {
	var adv net.Addr
	if n.opts.raftAdvertise != "" {
		a, err := net.ResolveTCPAddr("tcp", n.opts.raftAdvertise)
		if err != nil {
			return nil, fmt.Errorf("-raft-advertise: %w", err)
		}
		adv = a
	}
	logger := n.logger.Named("raft-net")
	if n.tls == nil {
		return transport.NewTCPTransportWithLogger(n.opts.raftAddr, adv, 3, 10*time.Second, logger)
	}
	stream, err := transport.NewTLSStreamLayer(n.opts.raftAddr, adv, n.raftTLS())
	if err != nil {
		return nil, err
	}
	return transport.NewNetworkTransportWithLogger(stream, 3, 10*time.Second, logger), nil
}

// scheme is the API's URL scheme.
func (n *node) scheme() string {
	if n.tls != nil {
		return "https"
	}
	return "http"
}

// otherVoters counts the voters other than this server in the latest
// configuration.
func (n *node) otherVoters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.opts.id {
			c++
		}
	}
	return c
}

// checkAdvertisable refuses addresses other hosts cannot dial.
func checkAdvertisable(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return errors.New("not an address other servers can reach")
	}
	return nil
}

// shutdown stops the node cleanly: a leader first hands leadership to
// another voter (so a rolling restart causes no election timeout), the
// HTTP API stops taking requests (those in flight get until ctx is done,
// then their connections are closed), then Raft shuts down, then the
// transport and the stores close. It returns the first error. Call it once,
// from one goroutine.
func (n *node) shutdown(ctx context.Context) error {
	if n.raft.State() == raft.Leader && n.otherVoters() > 0 {
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := n.raft.LeadershipTransferContext(tctx, "").Error()
		cancel()
		if err != nil {
			n.logger.Warn("leadership transfer before shutdown failed; the others will elect a leader", "error", err)
		} else {
			n.logger.Info("handed leadership to another voter before shutdown")
		}
	}
	if err := n.http.Shutdown(ctx); err != nil {
		n.logger.Warn("HTTP requests still running at shutdown; closing their connections", "error", err)
	}
	return n.close()
}

// close releases whatever startNode opened, in order, without shutdown's
// courtesies; it is shutdown's last step and startNode's clean-up on error.
// Fields stay set (handlers still running after a forced close may read
// them); each resource is released once.
func (n *node) close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	n.closeOnce.Do(func() {
		if n.http != nil {
			_ = n.http.Close() // also closes n.httpLn; after Shutdown, nothing left to close
		} else if n.httpLn != nil {
			_ = n.httpLn.Close()
		}
		if n.raft != nil {
			keep(n.raft.Shutdown().Error())
		}
		if n.trans != nil {
			keep(n.trans.Close())
		}
		if n.stopStoreMetrics != nil {
			n.stopStoreMetrics()
			<-n.storeMetricsDone
		}
		if n.store != nil {
			keep(n.store.Close())
		}
		if n.exp != nil {
			keep(n.exp.Close())
		}
		if n.client != nil {
			n.client.CloseIdleConnections()
		}
	})
	return first
}
