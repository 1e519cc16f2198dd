package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nodeStartTimeout bounds a child's start, from exec to "ready". A restart
// replays a journal and restores a snapshot; under the race detector on two
// busy cores that has been seen to take seconds, never tens.
const nodeStartTimeout = 60 * time.Second

// cluster runs the three node processes of one test. Only the nemesis
// goroutine starts and kills processes; clients read httpAddr only.
type cluster struct {
	t      *testing.T
	logDir string
	nodes  []*proc
	http   *http.Client
	// brk is passed to every child (nodeSpec.Break).
	brk string
}

// proc is one node: its fixed spec and its current process.
type proc struct {
	spec nodeSpec
	runs int // processes started so far
	cmd  *exec.Cmd
	log  string // the current process's stderr file
	// exited is closed when the current process has exited; killed says
	// the nemesis did it.
	exited chan struct{}
	killed bool
}

// newCluster picks loopback ports and data directories (dirs[i] must exist)
// and starts the three nodes, the first time with bootstrap.
func newCluster(t *testing.T, logDir string, dirs []string, brk, store string) *cluster {
	c := &cluster{
		t: t, logDir: logDir, brk: brk,
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	ports := freePorts(t, 2*len(dirs))
	var peers []peerSpec
	for i := range dirs {
		peers = append(peers, peerSpec{ID: fmt.Sprintf("n%d", i+1), Addr: ports[2*i]})
	}
	for i, d := range dirs {
		c.nodes = append(c.nodes, &proc{spec: nodeSpec{
			ID: peers[i].ID, Dir: d, RaftAddr: ports[2*i], HTTPAddr: ports[2*i+1], Peers: peers, Break: brk, Store: store,
		}})
	}
	t.Cleanup(c.killAll)
	for i := range c.nodes {
		if err := c.start(i, true); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// freePorts returns n distinct loopback addresses that were free a moment
// ago. The nodes keep them across restarts (the configuration names them).
func freePorts(t *testing.T, n int) []string {
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
		_ = l.Close()
	}
	return addrs
}

// start starts node i and waits for it to report ready. The error carries
// the child's stderr if it exits or stalls first.
func (c *cluster) start(i int, bootstrap bool) error {
	p := c.nodes[i]
	p.runs++
	spec := p.spec
	spec.Bootstrap = bootstrap
	specJSON, _ := json.Marshal(spec)
	p.log = filepath.Join(c.logDir, fmt.Sprintf("%s.run%03d.log", spec.ID, p.runs))
	logf, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(specJSON))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", spec.ID, err)
	}
	p.cmd, p.killed, p.exited = cmd, false, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(nodeStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-p.exited:
		return fmt.Errorf("%s (run %d) failed to start: %v\n%s", spec.ID, p.runs, cmd.ProcessState, tail(p.log))
	case <-timer.C:
		return fmt.Errorf("%s (run %d) not ready after %v\n%s", spec.ID, p.runs, nodeStartTimeout, tail(p.log))
	}
}

// kill SIGKILLs node i and waits until it is gone.
func (c *cluster) kill(i int) {
	p := c.nodes[i]
	if p.cmd == nil || p.killed {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (c *cluster) killAll() {
	for i := range c.nodes {
		c.kill(i)
	}
}

// checkAlive returns an error naming any node that exited on its own.
func (c *cluster) checkAlive() error {
	for _, p := range c.nodes {
		select {
		case <-p.exited:
			if !p.killed {
				return fmt.Errorf("%s (run %d) exited by itself: %v\n%s", p.spec.ID, p.runs, p.cmd.ProcessState, tail(p.log))
			}
		default:
		}
	}
	return nil
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%s: %v)", path, err)
	}
	const max = 6000
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return fmt.Sprintf("--- %s ---\n%s", path, b)
}

// index returns the node with the given ID, or -1.
func (c *cluster) index(id string) int {
	for i, p := range c.nodes {
		if p.spec.ID == id {
			return i
		}
	}
	return -1
}

// call sends one request to node i. It returns the status and body, or an
// error; a dial error (errors.As *net.OpError with Op "dial") means the
// request was never sent.
func (c *cluster) call(ctx context.Context, i int, method, path string, q url.Values) (int, string, http.Header, error) {
	u := "http://" + c.nodes[i].spec.HTTPAddr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, string(b), resp.Header, nil
}

// notSent reports whether err means the request never reached the node.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// state asks node i for its /state, within a second.
func (c *cluster) state(ctx context.Context, i int) (nodeState, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	code, body, _, err := c.call(ctx, i, "GET", "/state", nil)
	if err != nil {
		return nodeState{}, err
	}
	if code != http.StatusOK {
		return nodeState{}, fmt.Errorf("status %d: %s", code, body)
	}
	var s nodeState
	return s, json.Unmarshal([]byte(body), &s)
}

// leader returns the node that says it leads with the highest term, or -1.
func (c *cluster) leader(ctx context.Context) int {
	var (
		mu   sync.Mutex
		best = -1
		term uint64
		wg   sync.WaitGroup
	)
	for i := range c.nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := c.state(ctx, i)
			if err != nil || s.State != "Leader" {
				return
			}
			mu.Lock()
			if best < 0 || s.Term > term {
				best, term = i, s.Term
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return best
}

// dump reads node i's FSM.
func (c *cluster) dump(ctx context.Context, i int) (kvDump, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	code, body, _, err := c.call(ctx, i, "GET", "/dump", nil)
	if err != nil {
		return kvDump{}, err
	}
	if code != http.StatusOK {
		return kvDump{}, fmt.Errorf("status %d: %s", code, strings.TrimSpace(body))
	}
	var d kvDump
	return d, json.Unmarshal([]byte(body), &d)
}
