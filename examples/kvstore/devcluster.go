package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// devChild is one server of a -dev-cluster.
type devChild struct {
	id       string
	httpAddr string
	args     []string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // Wait's result, set before done closes
}

// runDevCluster starts n servers of this binary as child processes on
// consecutive ports, the first bootstrapping and the others joining it,
// prints how to use them, and on a signal stops them with SIGTERM. A
// restart with the same flags reuses their data directories.
func runDevCluster(ctx context.Context, o *options, fs *flag.FlagSet) error {
	if o.devCluster > 9 {
		return errors.New("-dev-cluster: at most 9 servers")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	httpHost, httpPort, raftHost, raftPort, err := devPorts(o)
	if err != nil {
		return err
	}
	base := o.dataDir
	if base == "" {
		base = filepath.Join("data", "kvstore")
	}
	var common []string
	fs.Visit(func(f *flag.Flag) {
		for _, p := range passThrough {
			if f.Name == p {
				common = append(common, "-"+f.Name+"="+f.Value.String())
			}
		}
	})
	out := &prefixWriters{w: os.Stderr}
	var children []*devChild
	defer func() { stopChildren(children) }()
	for i := 0; i < o.devCluster; i++ {
		c := &devChild{id: fmt.Sprintf("node%d", i+1), httpAddr: net.JoinHostPort(httpHost, strconv.Itoa(httpPort+i)),
			done: make(chan struct{})}
		c.args = append([]string{"-id", c.id, "-http-addr", c.httpAddr,
			"-raft-addr", net.JoinHostPort(raftHost, strconv.Itoa(raftPort+i)),
			"-data-dir", filepath.Join(base, c.id)}, common...)
		if i == 0 {
			c.args = append(c.args, "-bootstrap")
		} else {
			c.args = append(c.args, "-join", children[0].httpAddr)
		}
		c.cmd = exec.Command(exe, c.args...)
		c.cmd.Stdout = out.writer(c.id)
		c.cmd.Stderr = c.cmd.Stdout
		if err := c.cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", c.id, err)
		}
		go func() {
			c.err = c.cmd.Wait()
			close(c.done)
		}()
		children = append(children, c)
	}

	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	if err := waitDevCluster(ctx, children, scheme, o); err != nil {
		return err
	}
	printUsage(os.Stdout, children, scheme, exe, o)

	for {
		alive := 0
		for _, c := range children {
			select {
			case <-c.done:
			default:
				alive++
			}
		}
		if alive == 0 {
			return errors.New("every server has exited")
		}
		select {
		case <-ctx.Done():
			return nil // the deferred stopChildren stops them
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// devPorts returns the hosts and first ports of the children's HTTP and
// Raft addresses (-http-addr, -raft-addr; the ports count up from them),
// or an error if they do not parse or the two ranges collide on one host.
func devPorts(o *options) (httpHost string, httpPort int, raftHost string, raftPort int, err error) {
	if httpHost, httpPort, err = splitPort(o.httpAddr); err != nil {
		return "", 0, "", 0, fmt.Errorf("-http-addr: %w", err)
	}
	if raftHost, raftPort, err = splitPort(o.raftAddr); err != nil {
		return "", 0, "", 0, fmt.Errorf("-raft-addr: %w", err)
	}
	n := o.devCluster
	if httpHost == raftHost && httpPort < raftPort+n && raftPort < httpPort+n {
		return "", 0, "", 0, fmt.Errorf("-dev-cluster %d: HTTP ports %d-%d and Raft ports %d-%d overlap", n,
			httpPort, httpPort+n-1, raftPort, raftPort+n-1)
	}
	return httpHost, httpPort, raftHost, raftPort, nil
}

// splitPort splits host:port with a numeric port.
func splitPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 {
		return "", 0, fmt.Errorf("port %q: want a number", p)
	}
	return h, port, nil
}

// waitDevCluster waits until the first server reports every server in the
// configuration with a leader elected, and every server knows that leader
// and its HTTP address (so the banner's first write, sent to a follower,
// is forwarded rather than refused with "no leader known").
func waitDevCluster(ctx context.Context, children []*devChild, scheme string, o *options) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if o.tlsCert != "" {
		cfg, err := loadTLS(o)
		if err != nil {
			return err
		}
		client.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := devClusterReady(client, children, scheme)
		if err == nil {
			return nil
		}
		for _, c := range children {
			select {
			case <-c.done:
				return fmt.Errorf("%s exited during start-up: %v", c.id, c.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cluster did not form within 60s (last: %v)", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// devClusterReady returns nil once the first server's configuration holds
// every server and all servers name the same leader with its HTTP address.
func devClusterReady(client *http.Client, children []*devChild, scheme string) error {
	var leader string
	for i, c := range children {
		var st status
		resp, err := client.Get(scheme + "://" + c.httpAddr + "/status")
		if err != nil {
			return err
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		switch {
		case err != nil:
			return fmt.Errorf("%s: /status: %w", c.id, err)
		case i == 0 && len(st.Configuration) != len(children):
			return fmt.Errorf("%s: %d servers in the configuration, want %d", c.id, len(st.Configuration), len(children))
		case st.Leader == nil || st.Leader.HTTPAddr == "":
			return fmt.Errorf("%s: no leader known yet", c.id)
		case i > 0 && st.Leader.ID != leader:
			return fmt.Errorf("%s: leader %s, %s: leader %s", children[0].id, leader, c.id, st.Leader.ID)
		}
		leader = st.Leader.ID
	}
	return nil
}

// printUsage prints the servers and curl commands to try.
func printUsage(w io.Writer, children []*devChild, scheme, exe string, o *options) {
	curl := "curl"
	if o.tlsCert != "" {
		curl = fmt.Sprintf("curl --cacert %s", o.tlsCA)
	}
	a, b, c := children[0].httpAddr, children[len(children)-1].httpAddr, children[len(children)/2].httpAddr
	u := func(addr, path string) string { return scheme + "://" + addr + path }
	fmt.Fprintf(w, "\nkvstore: %d servers running (data under %s; Ctrl-C stops them all cleanly):\n", len(children), filepath.Dir(childDataDir(children[0])))
	for _, ch := range children {
		fmt.Fprintf(w, "  %-6s pid %-7d %s\n", ch.id, ch.cmd.Process.Pid, u(ch.httpAddr, ""))
	}
	lines := [][2]string{
		{curl + " -XPUT " + u(b, "/kv/hello") + " -d world", "write (a follower forwards it to the leader)"},
		{curl + " " + u(c, "/kv/hello"), "linearizable read, on any server"},
		{curl + " '" + u(a, "/kv/hello?stale") + "'", "local read, possibly stale"},
		{curl + " -XDELETE " + u(b, "/kv/hello"), "delete"},
		{curl + " " + u(a, "/status"), "role, leader, term, indexes, configuration"},
		{curl + " -s " + u(a, "/metrics") + " | grep '^raft_'", "Prometheus metrics"},
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	fmt.Fprintf(w, "\nTry:\n")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  # %s\n", width, l[0], l[1])
	}
	fmt.Fprintf(w, "Failover: kill -9 the leader's pid (see /status), keep writing to another server, then\n"+
		"restart it with its command below; it catches up from its data directory.\n")
	for _, ch := range children {
		args := make([]string, 0, len(ch.args))
		for _, arg := range ch.args {
			if strings.ContainsAny(arg, " '\"") {
				arg = strconv.Quote(arg)
			}
			args = append(args, arg)
		}
		fmt.Fprintf(w, "  restart %s: %s %s\n", ch.id, exe, strings.Join(args, " "))
	}
	fmt.Fprintln(w)
}

// childDataDir returns a child's -data-dir argument.
func childDataDir(c *devChild) string {
	for i, a := range c.args {
		if a == "-data-dir" && i+1 < len(c.args) {
			return c.args[i+1]
		}
	}
	return ""
}

// stopChildren sends SIGTERM to every running child and waits for them,
// killing those still running after 15s.
func stopChildren(children []*devChild) {
	for _, c := range children {
		_ = c.cmd.Process.Signal(syscall.SIGTERM) // already exited: nothing to do
	}
	deadline := time.After(15 * time.Second)
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if c.err != nil {
			fmt.Fprintf(os.Stderr, "kvstore: %s: %v\n", c.id, c.err)
		}
	}
}

// prefixWriters writes several children's output to one writer, whole
// lines at a time, each prefixed with the child's name.
type prefixWriters struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *prefixWriters) writer(name string) io.Writer {
	return &prefixWriter{p: p, prefix: []byte(fmt.Sprintf("%-6s| ", name))}
}

// prefixWriter buffers one child's partial line.
type prefixWriter struct {
	p      *prefixWriters
	prefix []byte
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.p.mu.Lock()
		_, _ = w.p.w.Write(append(append([]byte{}, w.prefix...), w.buf[:i+1]...))
		w.p.mu.Unlock()
		w.buf = w.buf[i+1:]
	}
}
