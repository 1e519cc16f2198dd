package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eNode is one kvstore process of the end-to-end test.
type e2eNode struct {
	id, httpAddr, raftAddr, dir string
	args                        []string
	log                         string // the process's output file
	cmd                         *exec.Cmd
	done                        chan struct{}
	err                         error // Wait's result, set before done closes
}

// e2eCluster runs kvstore processes built from this package.
type e2eCluster struct {
	t      *testing.T
	bin    string
	client *http.Client
	nodes  []*e2eNode
	scheme string   // "http" or "https"
	flags  []string // given to every node
}

// url is the base URL of n's API.
func (c *e2eCluster) url(n *e2eNode) string { return c.scheme + "://" + n.httpAddr }

// The kvstore binary, built once for every test of the package.
var (
	buildOnce sync.Once
	binDir    string // removed by TestMain
	binPath   string
	binErr    error
)

// buildKVStore builds this package's binary (with -race when the test runs
// under it).
func buildKVStore(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "kvstore-e2e"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kvstore")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		start := time.Now()
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		t.Logf("built %s in %s (race=%v)", binPath, time.Since(start).Round(time.Millisecond), raceEnabled)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// freePorts returns n distinct loopback addresses free at the time of the
// call (held together so they differ).
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var addrs []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return addrs
}

// start launches (or relaunches, with the same arguments) a node.
func (c *e2eCluster) start(n *e2eNode) {
	c.t.Helper()
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== start %s %s\n", n.id, strings.Join(n.args, " "))
	n.cmd = exec.Command(c.bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.done, n.err = make(chan struct{}), nil
	cmd, done := n.cmd, n.done
	go func() {
		n.err = cmd.Wait()
		close(done)
	}()
}

// newNode adds a node; extra are its role flags (-bootstrap or -join).
func (c *e2eCluster) newNode(id, httpAddr, raftAddr string, extra ...string) *e2eNode {
	dir := filepath.Join(c.t.TempDir(), id)
	n := &e2eNode{id: id, httpAddr: httpAddr, raftAddr: raftAddr, dir: dir, log: dir + ".log"}
	n.args = append([]string{"-id", id, "-http-addr", httpAddr, "-raft-addr", raftAddr, "-data-dir", dir,
		// Small snapshots, so a node that was down catches up by
		// InstallSnapshot (FSM.Restore in another process).
		"-snapshot-threshold", "64", "-snapshot-interval", "200ms", "-trailing-logs", "16",
		"-log-level", "DEBUG"}, c.flags...)
	n.args = append(n.args, extra...)
	c.nodes = append(c.nodes, n)
	c.start(n)
	return n
}

// running reports whether n's process is alive.
func (n *e2eNode) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// dumpLogs prints every node's output (on failure).
func (c *e2eCluster) dumpLogs() {
	for _, n := range c.nodes {
		b, _ := os.ReadFile(n.log)
		if len(b) > 60000 {
			b = append([]byte("...\n"), b[len(b)-60000:]...)
		}
		c.t.Logf("---- %s output:\n%s", n.id, b)
	}
}

// stopAll kills whatever still runs (test clean-up).
func (c *e2eCluster) stopAll() {
	for _, n := range c.nodes {
		if n.cmd != nil && n.running() {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	c.client.CloseIdleConnections()
}

// do sends one request and returns the status and body.
func (c *e2eCluster) do(method, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// status reads a node's /status.
func (c *e2eCluster) status(n *e2eNode) (status, error) {
	var st status
	code, b, err := c.do("GET", c.url(n)+"/status", nil)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("/status: %d %s", code, b)
	}
	return st, json.Unmarshal(b, &st)
}

// waitFor polls cond until it returns nil, failing after timeout.
func (c *e2eCluster) waitFor(what string, timeout time.Duration, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.dumpLogs()
			c.t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tryPut writes key=value through n, retrying for up to 30s while there is
// no leader (the write is idempotent, so a retry after an unknown outcome is
// harmless).
func (c *e2eCluster) tryPut(n *e2eNode, key, value string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b, err := c.do("PUT", c.url(n)+"/kv/"+key, []byte(value))
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d %s", code, b)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PUT %s via %s: %w", key, n.id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// put is tryPut failing the test.
func (c *e2eCluster) put(n *e2eNode, key, value string) {
	c.t.Helper()
	if err := c.tryPut(n, key, value); err != nil {
		c.dumpLogs()
		c.t.Fatal(err)
	}
}

// get reads key through n (query "" or "?stale").
func (c *e2eCluster) get(n *e2eNode, key, query string) (int, string, error) {
	code, b, err := c.do("GET", c.url(n)+"/kv/"+key+query, nil)
	return code, string(b), err
}

// leader returns the node that every running node names as leader.
func (c *e2eCluster) leader() (*e2eNode, error) {
	var leaderID string
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		st, err := c.status(n)
		if err != nil {
			return nil, err
		}
		if st.Leader == nil {
			return nil, fmt.Errorf("%s knows no leader", n.id)
		}
		if leaderID != "" && st.Leader.ID != leaderID {
			return nil, fmt.Errorf("leaders differ: %s and %s", leaderID, st.Leader.ID)
		}
		leaderID = st.Leader.ID
	}
	for _, n := range c.nodes {
		if n.id == leaderID && n.running() {
			return n, nil
		}
	}
	return nil, fmt.Errorf("leader %q is not running", leaderID)
}

// metricsSeries returns the names of the series on a /metrics page (with
// labels, without quantile lines' values).
func metricsSeries(page string) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			out[l[:i]] = true
			if j := strings.IndexByte(l, '{'); j > 0 {
				out[l[:j]] = true // the bare name too
			}
		}
	}
	return out
}

// The kvstore binary end to end: three processes on loopback, writes and
// reads through the HTTP API, the raft_* series on /metrics, a SIGKILL of
// the leader with writes going on through the new one, the killed node
// restarted on its data directory catching up, and a clean SIGTERM stop.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	start := time.Now()
	c := &e2eCluster{t: t, bin: buildKVStore(t), scheme: "http",
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{}}}
	defer c.stopAll()
	addrs := freePorts(t, 6)
	n1 := c.newNode("node1", addrs[0], addrs[1], "-bootstrap")
	c.waitFor("node1 leads", 30*time.Second, func() error {
		st, err := c.status(n1)
		if err == nil && st.Role != "Leader" {
			err = fmt.Errorf("role %s", st.Role)
		}
		return err
	})
	n2 := c.newNode("node2", addrs[2], addrs[3], "-join", n1.httpAddr)
	n3 := c.newNode("node3", addrs[4], addrs[5], "-join", n1.httpAddr)
	nodes := []*e2eNode{n1, n2, n3}
	c.waitFor("three voters with HTTP addresses, seen by every node", 30*time.Second, func() error {
		for _, n := range nodes {
			st, err := c.status(n)
			if err != nil {
				return err
			}
			if len(st.Configuration) != 3 {
				return fmt.Errorf("%s: configuration %+v", n.id, st.Configuration)
			}
			for _, s := range st.Configuration {
				if s.Suffrage != "Voter" || s.HTTPAddr == "" {
					return fmt.Errorf("%s: server %+v", n.id, s)
				}
			}
		}
		return nil
	})
	t.Logf("cluster formed after %s", time.Since(start).Round(time.Millisecond))

	// Writes through every node (followers forward), then linearizable
	// reads on every node see them all, and a delete.
	for i := 0; i < 30; i++ {
		c.put(nodes[i%3], fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
	}
	for _, n := range nodes {
		for _, i := range []int{0, 14, 29} {
			code, v, err := c.get(n, fmt.Sprintf("k%02d", i), "")
			if err != nil || code != http.StatusOK || v != fmt.Sprintf("v%d", i) {
				t.Fatalf("GET k%02d on %s: %d %q %v", i, n.id, code, v, err)
			}
		}
	}
	code, b, err := c.do("DELETE", c.url(n2)+"/kv/k00", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("DELETE via node2: %d %s %v", code, b, err)
	}
	if code, v, err := c.get(n3, "k00", ""); err != nil || code != http.StatusNotFound {
		t.Fatalf("GET deleted k00 on node3: %d %q %v", code, v, err)
	}

	leader, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, c, leader, nodes)

	// SIGKILL the leader; the others elect a new one and take writes.
	oldStatus, err := c.status(leader)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.done
	t.Logf("killed the leader %s at %s", leader.id, time.Since(start).Round(time.Millisecond))
	var rest []*e2eNode
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	killed := time.Now()
	var next *e2eNode
	c.waitFor("a new leader", 30*time.Second, func() error {
		l, err := c.leader()
		if err == nil && l != leader {
			next = l
		}
		if err == nil && next == nil {
			err = errors.New("no new leader yet")
		}
		return err
	})
	t.Logf("%s leads %s after the kill", next.id, time.Since(killed).Round(time.Millisecond))
	// Enough writes (concurrent, through both survivors) that the new
	// leader snapshots and compacts past the killed node's log.
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := c.tryPut(rest[w%2], fmt.Sprintf("w%d-%02d", w, i), fmt.Sprintf("x%d", i)); err != nil {
					t.Errorf("after failover: %v", err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		c.dumpLogs()
		t.FailNow()
	}
	for i := 0; i < 5; i++ {
		c.put(rest[i%2], "last", fmt.Sprintf("value-%d", i))
	}
	c.waitFor("a snapshot on the new leader", 30*time.Second, func() error {
		st, err := c.status(next)
		if err == nil && st.LastSnapshotIndex <= oldStatus.LastLogIndex+16 {
			err = fmt.Errorf("last snapshot index %d", st.LastSnapshotIndex)
		}
		return err
	})

	// Restart the killed node on its data directory (same flags, so node1
	// would still say -bootstrap: existing state must win). It catches up:
	// its local (stale) read returns the newest value.
	restarted := time.Now()
	c.start(leader)
	c.waitFor("the restarted "+leader.id+" catches up", 30*time.Second, func() error {
		code, v, err := c.get(leader, "last", "?stale")
		if err == nil && (code != http.StatusOK || v != "value-4") {
			err = fmt.Errorf("%d %q", code, v)
		}
		return err
	})
	t.Logf("the restarted %s caught up %s after its start", leader.id, time.Since(restarted).Round(time.Millisecond))
	st, err := c.status(leader)
	if err != nil {
		t.Fatal(err)
	}
	if st.Term < oldStatus.Term || len(st.Configuration) != 3 || st.Keys != 29+200+1 {
		t.Fatalf("restarted %s: term %d (was %d), %d servers, %d keys (want 230)", leader.id, st.Term, oldStatus.Term,
			len(st.Configuration), st.Keys)
	}
	// It caught up by InstallSnapshot (the leader had compacted past its
	// log): the FSM restored from a snapshot made by another process.
	code, page, err := c.do("GET", c.url(leader)+"/metrics", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics on the restarted %s: %d %v", leader.id, code, err)
	}
	series := metricsSeries(string(page))
	for _, name := range []string{"raft_rpc_installSnapshot", "raft_fsm_restore"} {
		if !series[name] {
			t.Errorf("restarted %s: no %s: it did not catch up by InstallSnapshot", leader.id, name)
		}
	}
	if code, v, err := c.get(leader, "w7-24", ""); err != nil || code != http.StatusOK || v != "x24" {
		t.Fatalf("linearizable GET on the restarted %s: %d %q %v", leader.id, code, v, err)
	}

	// SIGTERM everyone: each exits 0 after a clean shutdown.
	for _, n := range nodes {
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			c.dumpLogs()
			t.Fatalf("%s did not exit within 30s of SIGTERM", n.id)
		}
		out, _ := os.ReadFile(n.log)
		if n.err != nil || !bytes.Contains(out, []byte("stopped cleanly")) {
			c.dumpLogs()
			t.Fatalf("%s: exit %v after SIGTERM", n.id, n.err)
		}
		if bytes.Contains(out, []byte("WARNING: DATA RACE")) {
			c.dumpLogs()
			t.Fatalf("%s: data race", n.id)
		}
	}
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

// checkMetrics scrapes /metrics and looks for the raft_* series of each
// stage: apply, commit, replication (per peer), FSM.
func checkMetrics(t *testing.T, c *e2eCluster, leader *e2eNode, nodes []*e2eNode) {
	t.Helper()
	pages := map[string]map[string]bool{}
	for _, n := range nodes {
		code, b, err := c.do("GET", c.url(n)+"/metrics", nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("/metrics on %s: %d %v", n.id, code, err)
		}
		pages[n.id] = metricsSeries(string(b))
	}
	// The leader: apply, the leader's disk write, replication per peer,
	// commit, FSM, the store.
	want := map[string][]string{leader.id: {
		"raft_apply",                 // counter, per Apply
		"raft_leader_dispatchLog",    // timer, the leader's own log write
		"raft_commitTime",            // timer, dispatch to commit
		"raft_fsm_enqueue",           // timer, hand-off to the apply loop
		"raft_fsm_apply",             // timer, FSM.Apply
		"raft_state_leader",          // counter
		"raft_peers",                 // gauge
		"raft_boltdb_storeLogs",      // timer, raft-boltdb's key
		"raft_pontoon_journal_write", // timer, one journal write + fdatasync
	}}
	for _, n := range nodes {
		if n == leader {
			continue
		}
		want[leader.id] = append(want[leader.id],
			fmt.Sprintf(`raft_replication_appendEntries_rpc_count{peer_id=%q}`, n.id),
			fmt.Sprintf(`raft_replication_appendEntries_logs{peer_id=%q}`, n.id))
		// A follower: the AppendEntries it handles, its log write, its FSM.
		want[n.id] = []string{"raft_rpc_appendEntries", "raft_rpc_appendEntries_storeLogs", "raft_fsm_apply"}
	}
	for _, n := range nodes {
		for _, name := range want[n.id] {
			if !pages[n.id][name] {
				t.Errorf("%s: no series %s on /metrics", n.id, name)
			}
		}
	}
	if t.Failed() {
		var names []string
		for k := range pages[leader.id] {
			if strings.HasPrefix(k, "raft_") {
				names = append(names, k)
			}
		}
		t.Fatalf("raft series present: %v", names)
	}
}
