package main

// Multi-process mode (-procs): node1 runs in this process with the clients;
// node2 and node3 each run in a child process (this binary re-executed with
// BENCH_NODE set), so the three nodes no longer share one Go scheduler and
// one GOMAXPROCS, as in production. node1 alone is bootstrapped (with all
// three servers), so it is the only node that can start the first election
// and the clients' leader is local. CPU per op adds the children's CPU time
// (/proc/<pid>/stat); allocations and memory are node1's process only.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// nodeEnv names the environment variable that makes this binary run one
// node (a childSpec in JSON) instead of the benchmark.
const nodeEnv = "BENCH_NODE"

// childSpec is what a child process needs to start its node.
type childSpec struct {
	Engine     string        `json:"engine"`
	Index      int           `json:"index"`
	Dir        string        `json:"dir"`
	Addr       string        `json:"addr"`
	Timeout    time.Duration `json:"timeout"`
	LogLevel   string        `json:"log_level"`
	LeaseReads bool          `json:"lease_reads"`
	PtStore    string        `json:"pontoon_store,omitempty"`
	// CPUProfile, if set, is where the child writes a CPU profile of its
	// whole life (-cpuprofile's path plus ".node2" / ".node3").
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// nodeCloser stops one node and closes its stores.
type nodeCloser interface{ shutdown() error }

// startOneNode starts node spec.Index of an engine without bootstrapping it;
// set by each engine's file.
var startOneNode = map[string]func(o clusterOpts, i int, addr string, logger hclog.Logger) (nodeCloser, error){}

// child is a node running in a child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// spawnNode starts node i of engine in a child process listening on addr,
// and waits until it reports ready.
func spawnNode(engine string, o clusterOpts, i int, dir, addr string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, _ := json.Marshal(childSpec{Engine: engine, Index: i, Dir: dir, Addr: addr, Timeout: o.timeout,
		LogLevel: o.logLevel, LeaseReads: o.leaseReads, PtStore: o.ptStore, CPUProfile: childProfile(o.cpuprofile, i)})
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(spec))
	cmd.Stderr = &lockedWriter{w: o.logw} // two children copy their stderr at once
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	select {
	case err := <-ready:
		if err != nil {
			c.kill()
			return nil, fmt.Errorf("node%d (pid %d) did not start: %w", i+1, cmd.Process.Pid, err)
		}
	case <-time.After(o.elect):
		c.kill()
		return nil, fmt.Errorf("node%d (pid %d) not ready within %v", i+1, cmd.Process.Pid, o.elect)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// children are a cluster's nodes in child processes.
type children []*child

// childPIDs implements childProcs.
func (cs children) childPIDs() []int {
	var out []int
	for _, ch := range cs {
		out = append(out, ch.pid())
	}
	return out
}

// stoppers returns a stop function per child, for shutdownAll.
func (cs children) stoppers(timeout time.Duration) []func() error {
	var out []func() error
	for _, ch := range cs {
		out = append(out, func() error { return ch.stop(timeout) })
	}
	return out
}

// stop asks the child to shut its node down (by closing its stdin) and
// waits for it to exit; after timeout it is killed.
func (c *child) stop(timeout time.Duration) error {
	c.stdin.Close()
	select {
	case err := <-c.done:
		return err
	case <-time.After(timeout):
		c.kill()
		return fmt.Errorf("node process %d did not exit within %v; killed", c.pid(), timeout)
	}
}

func (c *child) kill() {
	c.cmd.Process.Kill()
}

// lockedWriter serialises the children's writes to one writer.
type lockedWriter struct{ w io.Writer }

var childOutputMu sync.Mutex

func (l *lockedWriter) Write(p []byte) (int, error) {
	childOutputMu.Lock()
	defer childOutputMu.Unlock()
	return l.w.Write(p)
}

// runChildNode is main for a child process: start the node, say "ready",
// run until stdin closes or a signal arrives, then shut down.
func runChildNode(specJSON string) {
	var s childSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fatalf("%s: %v", nodeEnv, err)
	}
	start, ok := startOneNode[s.Engine]
	if !ok {
		fatalf("%s: unknown engine %q", nodeEnv, s.Engine)
	}
	if s.CPUProfile != "" {
		stopProfile, err := record(s.CPUProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
		if err != nil {
			fatalf("node%d: cpuprofile: %v", s.Index+1, err)
		}
		defer stopProfile()
	}
	o := clusterOpts{dir: s.Dir, timeout: s.Timeout, logw: os.Stderr, logLevel: s.LogLevel, leaseReads: s.LeaseReads, ptStore: s.PtStore}
	logger := hclog.New(&hclog.LoggerOptions{Name: s.Engine, Level: hclog.LevelFromString(s.LogLevel), Output: os.Stderr})
	n, err := start(o, s.Index, s.Addr, logger)
	if err != nil {
		fatalf("node%d: %v", s.Index+1, err)
	}
	fmt.Println("ready")
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-stop:
	case <-sig:
	}
	writeStages(fmt.Sprintf("node%d", s.Index+1))
	if err := n.shutdown(); err != nil {
		fatalf("node%d: shutdown: %v", s.Index+1, err)
	}
}

// childProfile names node i's CPU profile file in a child process: empty
// when the run is not profiled.
func childProfile(path string, i int) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf("%s.node%d", path, i+1)
}

// procCPU is a process's user+system CPU time from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: split after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("malformed stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed stat")
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// childProcs is implemented by clusters with nodes in child processes.
type childProcs interface{ childPIDs() []int }

// clusterCPU is this process's CPU time plus that of the cluster's child
// processes.
func clusterCPU(cl cluster) time.Duration {
	t := cpuTime()
	if cp, ok := cl.(childProcs); ok {
		for _, pid := range cp.childPIDs() {
			if d, err := procCPU(pid); err == nil {
				t += d
			}
		}
	}
	return t
}
