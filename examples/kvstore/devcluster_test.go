package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// consecutivePorts finds n consecutive loopback ports free at the time of
// the call.
func consecutivePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		base := 20000 + rand.Intn(12000) // below the usual ephemeral range (32768-)
		var ls []net.Listener
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return base
		}
	}
	t.Fatal("no consecutive free ports")
	return 0
}

// The README's command: -dev-cluster 3 starts three servers, prints the
// curl commands (which work), and stops them all cleanly on SIGTERM.
func TestDevCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildKVStore(t)
	// One block of six, so the HTTP and Raft ranges cannot overlap (two
	// separate draws once did: node1's HTTP port was node3's Raft port).
	httpBase := consecutivePorts(t, 6)
	raftBase := httpBase + 3
	cmd := exec.Command(bin, "-dev-cluster", "3", "-http-addr", fmt.Sprintf("127.0.0.1:%d", httpBase),
		"-raft-addr", fmt.Sprintf("127.0.0.1:%d", raftBase), "-data-dir", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	defer func() {
		_ = cmd.Process.Kill() // no-op once it has exited
		for range lines {
		}
		<-done
	}()

	// Read the banner up to the restart commands.
	var out []string
	timeout := time.After(60 * time.Second)
	for len(out) == 0 || !strings.Contains(out[len(out)-1], "restart node3:") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited early; stdout:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
			}
			out = append(out, l)
		case <-timeout:
			t.Fatalf("no banner within 60s; stdout:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
		}
	}
	banner := strings.Join(out, "\n")
	put := regexp.MustCompile(`curl -XPUT (\S+) -d world`).FindStringSubmatch(banner)
	get := regexp.MustCompile(`curl (http://\S+/kv/hello)\s`).FindStringSubmatch(banner)
	if put == nil || get == nil {
		t.Fatalf("banner without the curl commands:\n%s", banner)
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("PUT", put[1], strings.NewReader("world"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the banner's PUT: %s", resp.Status)
	}
	resp, err = client.Get(get[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "world" {
		t.Fatalf("the banner's GET: %s %q", resp.Status, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	select {
	case err := <-done:
		done <- err // for the deferred clean-up
		if err != nil {
			t.Fatalf("exit: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM")
	}
	if n := strings.Count(stderr.String(), "stopped cleanly"); n != 3 {
		t.Fatalf("%d of 3 servers stopped cleanly; stderr:\n%s", n, stderr.String())
	}
}

// Overlapping HTTP and Raft port ranges are refused before any child
// starts, naming both ranges.
func TestDevClusterRefusesOverlappingPorts(t *testing.T) {
	for _, c := range []struct {
		http, raft string
		overlap    bool
	}{
		{"127.0.0.1:28630", "127.0.0.1:28628", true},
		{"127.0.0.1:28628", "127.0.0.1:28630", true},
		{"127.0.0.1:28628", "127.0.0.1:28628", true},
		{"127.0.0.1:28628", "127.0.0.1:28631", false},
		{"127.0.0.1:28631", "127.0.0.1:28628", false},
		{"127.0.0.1:28630", "127.0.0.2:28628", false},
	} {
		o := &options{}
		fs := flag.NewFlagSet("kvstore", flag.ContinueOnError)
		o.flags(fs)
		if err := fs.Parse([]string{"-dev-cluster", "3", "-http-addr", c.http, "-raft-addr", c.raft}); err != nil {
			t.Fatal(err)
		}
		if !c.overlap {
			if _, _, _, _, got := devPorts(o); got != nil {
				t.Errorf("http %s raft %s: %v", c.http, c.raft, got)
			}
			continue
		}
		err := runDevCluster(context.Background(), o, fs)
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("http %s raft %s: got %v, want an overlap error", c.http, c.raft, err)
		}
	}
}
