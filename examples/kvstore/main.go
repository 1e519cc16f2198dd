// Command kvstore is a replicated key-value service on Pontoon: an HTTP API
// over a Raft cluster, with bbolt and file snapshots on disk, a TCP (or TLS)
// transport and Prometheus metrics. See README.md.
//
//	go run -C examples/kvstore . -dev-cluster 3       # three local nodes, for trying it out
//	kvstore -id n1 -raft-addr 10.0.0.1:12000 -http-addr 10.0.0.1:11000 -data-dir /var/lib/kvstore -bootstrap
//	kvstore -id n2 -raft-addr 10.0.0.2:12000 -http-addr 10.0.0.2:11000 -data-dir /var/lib/kvstore -join 10.0.0.1:11000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// options are the command-line flags.
type options struct {
	id            string
	raftAddr      string
	raftAdvertise string
	httpAddr      string
	httpAdvertise string
	dataDir       string
	bootstrap     bool
	join          string
	logLevel      string

	tlsCert, tlsKey, tlsCA string

	snapshotThreshold uint64
	snapshotInterval  time.Duration
	trailingLogs      uint64
	logStore          string // "bolt" or "segment"

	devCluster int
}

// flags binds the options to a FlagSet; passThrough lists the flags a
// -dev-cluster parent hands on to its children.
func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.id, "id", "node1", "this server's ID, unique and stable")
	fs.StringVar(&o.raftAddr, "raft-addr", "127.0.0.1:12000", "Raft transport `address` to listen on")
	fs.StringVar(&o.raftAdvertise, "raft-advertise", "", "Raft `address` other servers dial, if not -raft-addr (needed when it binds 0.0.0.0)")
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:11000", "HTTP API `address` to listen on")
	fs.StringVar(&o.httpAdvertise, "http-advertise", "", "HTTP `address` other servers and clients use, if not -http-addr")
	fs.StringVar(&o.dataDir, "data-dir", "", "`directory` for raft.db and the snapshots (default data/kvstore/<id>)")
	fs.BoolVar(&o.bootstrap, "bootstrap", false, "start a new cluster with this server as its only member (ignored if the data directory holds state)")
	fs.StringVar(&o.join, "join", "", "HTTP `address`(es, comma-separated) of cluster members to ask for membership, if this server is not a member yet")
	fs.StringVar(&o.logLevel, "log-level", "INFO", "TRACE, DEBUG, INFO, WARN or ERROR")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate `file`: TLS for Raft (mutual) and HTTPS for the API")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM CA certificate `file` that signed every server's certificate")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", 8192, "log entries between automatic snapshots")
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", 120*time.Second, "how often to check -snapshot-threshold")
	fs.Uint64Var(&o.trailingLogs, "trailing-logs", 10240, "log entries kept after a snapshot (a follower further behind gets the snapshot)")
	fs.StringVar(&o.logStore, "log-store", "bolt", "the Raft log store: bolt (raft.db, raft-boltdb's format: hashicorp tools read it) or segment (logstore.SegmentStore in log/: each entry written once; Pontoon only). A data directory keeps the kind it was created with")
	fs.IntVar(&o.devCluster, "dev-cluster", 0, "start `n` local servers as child processes (ports counting up from -http-addr and -raft-addr, data under -data-dir, default data/kvstore)")
}

// passThrough are the flags a -dev-cluster parent gives every child as set.
var passThrough = []string{"log-level", "tls-cert", "tls-key", "tls-ca", "snapshot-threshold", "snapshot-interval", "trailing-logs", "log-store"}

func main() {
	o := &options{}
	fs := flag.NewFlagSet("kvstore", flag.ExitOnError)
	o.flags(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "kvstore: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if o.devCluster > 0 {
		err = runDevCluster(ctx, o, fs)
	} else {
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kvstore: %v\n", err)
		os.Exit(1)
	}
}

// run runs one server until ctx is done (a signal) or the server leaves the
// cluster, then shuts it down cleanly.
func run(ctx context.Context, o *options) error {
	if o.dataDir == "" {
		o.dataDir = filepath.Join("data", "kvstore", o.id)
	}
	level := hclog.LevelFromString(o.logLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("-log-level %q: want TRACE, DEBUG, INFO, WARN or ERROR", o.logLevel)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "kvstore", Level: level, Output: os.Stderr})
	n, err := startNode(o, logger)
	if err != nil {
		return err
	}
	var joinAddrs []string
	if o.join != "" {
		joinAddrs = strings.Split(o.join, ",")
	}
	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.maintain(loopCtx, joinAddrs)
	}()
	select {
	case <-ctx.Done():
		logger.Info("signal received; shutting down")
	case <-n.left:
		logger.Info("this server left the cluster; shutting down (its data directory still holds the old state: empty it before joining again)")
	}
	cancel()
	<-done
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := n.shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped cleanly")
	return nil
}
