package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// machineInfo describes the machine the benchmark ran on.
type machineInfo struct {
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	NumCPU    int    `json:"num_cpu"`
	GOMAXPROC int    `json:"gomaxprocs"`
	CPUModel  string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	MemTotal  string `json:"mem_total"`
	DataDir   string `json:"data_dir"`
	Disk      string `json:"disk"` // device and filesystem of DataDir
}

// limits are the machine's measured floors.
type limits struct {
	BoltCommitMedianMs float64 `json:"bolt_commit_median_ms"` // one-entry bbolt Update: two fdatasyncs
	BoltCommitSamples  int     `json:"bolt_commit_samples"`
	RawSyncMedianMs    float64 `json:"raw_write_sync_median_ms"` // f.Write(64 B) + f.Sync
	RawSyncSamples     int     `json:"raw_write_sync_samples"`
	TCPRTTMedianMs     float64 `json:"tcp_rtt_median_ms"` // 8-byte ping-pong on 127.0.0.1
	TCPRTTSamples      int     `json:"tcp_rtt_samples"`
	// MajoritySyncMedianMs is the time for two writers, each on a file of
	// its own in the data dir, to both finish write 64 B + fdatasync when
	// they start together: what a commit needs at one client when the
	// nodes share this disk (two copies of a majority of three).
	MajoritySyncMedianMs float64 `json:"majority_write_sync_median_ms"`
	MajoritySyncSamples  int     `json:"majority_write_sync_samples"`
	// SharedDiskFloorMs is RTT + MajoritySyncMedianMs: the single-client
	// floor when every node's store is on the same disk (as in this
	// benchmark), beside FloorMs, which assumes a disk per node.
	SharedDiskFloorMs float64 `json:"shared_disk_floor_ms"`
	// FloorMs is the single-client latency floor of a 3-node cluster:
	// max(leader store commit, RTT + follower store commit).
	FloorMs float64 `json:"floor_ms"`
	// Stalls is what the stall probe saw (stallprobe.go): the machine
	// stopping a spinning thread while fsyncs run; StallProbeSec is how
	// long it ran (0: not run).
	Stalls        stallStats `json:"stalls"`
	StallProbeSec float64    `json:"stall_probe_s,omitempty"`
	Err           string     `json:"error,omitempty"`
}

func describeMachine(dataDir string) machineInfo {
	m := machineInfo{
		Date:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		NumCPU:    runtime.NumCPU(),
		GOMAXPROC: runtime.GOMAXPROCS(0),
		DataDir:   dataDir,
	}
	m.CPUModel = firstField("/proc/cpuinfo", "model name")
	m.MemTotal = firstField("/proc/meminfo", "MemTotal")
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	m.Disk = mountOf(dataDir)
	return m
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// firstField returns the value of the first "key: value" line of path.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mountOf returns "device (fstype) on mountpoint" for the mount holding dir.
func mountOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestLen := "", -1
	s := bufio.NewScanner(f)
	for s.Scan() {
		fl := strings.Fields(s.Text())
		if len(fl) < 3 {
			continue
		}
		mp := fl[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > bestLen {
			best, bestLen = fmt.Sprintf("%s (%s) on %s", fl[0], fl[2], mp), len(mp)
		}
	}
	return best
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// probeLimits measures the disk and loopback floors. Each probe stops after
// n samples or budget, whichever comes first.
func probeLimits(ctx context.Context, dir string, n int, budget time.Duration) limits {
	var l limits
	var errs []string
	bolt, err := probeBolt(ctx, dir, n, budget)
	if err != nil {
		errs = append(errs, "bbolt: "+err.Error())
	}
	raw, err := probeRawSync(ctx, dir, n, budget)
	if err != nil {
		errs = append(errs, "raw sync: "+err.Error())
	}
	maj, err := probeMajoritySync(ctx, dir, n, budget)
	if err != nil {
		errs = append(errs, "majority sync: "+err.Error())
	}
	rtt, err := probeRTT(ctx, n*10, budget)
	if err != nil {
		errs = append(errs, "tcp: "+err.Error())
	}
	stallDur := min(stallProbeDuration, budget)
	gaps, err := probeStalls(ctx, dir, stallDur)
	if err != nil {
		errs = append(errs, "stalls: "+err.Error())
	} else {
		l.Stalls, l.StallProbeSec = summarizeStalls(gaps, stallDur), stallDur.Seconds()
	}
	l.BoltCommitMedianMs, l.BoltCommitSamples = ms(median(bolt)), len(bolt)
	l.RawSyncMedianMs, l.RawSyncSamples = ms(median(raw)), len(raw)
	l.TCPRTTMedianMs, l.TCPRTTSamples = ms(median(rtt)), len(rtt)
	l.MajoritySyncMedianMs, l.MajoritySyncSamples = ms(median(maj)), len(maj)
	if len(maj) > 0 {
		l.SharedDiskFloorMs = l.TCPRTTMedianMs + l.MajoritySyncMedianMs
	}
	l.FloorMs = l.BoltCommitMedianMs
	if f := l.TCPRTTMedianMs + l.BoltCommitMedianMs; f > l.FloorMs {
		l.FloorMs = f
	}
	l.Err = strings.Join(errs, "; ")
	return l
}

func probeBolt(ctx context.Context, dir string, n int, budget time.Duration) ([]time.Duration, error) {
	path := filepath.Join(dir, "probe.db")
	defer os.Remove(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	bucket := []byte("logs")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return nil, err
	}
	val := make([]byte, 64)
	var out []time.Duration
	deadline := time.Now().Add(budget)
	for i := 0; i < n && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], uint64(i))
		t0 := time.Now()
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucket).Put(key[:], val)
		}); err != nil {
			return out, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

func probeRawSync(ctx context.Context, dir string, n int, budget time.Duration) ([]time.Duration, error) {
	path := filepath.Join(dir, "probe.raw")
	defer os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 64)
	var out []time.Duration
	deadline := time.Now().Add(budget)
	for i := 0; i < n && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return out, err
		}
		if err := f.Sync(); err != nil {
			return out, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// probeMajoritySync times two writers that each write 64 B into a file of
// their own (overwriting a region written and synced beforehand, as a
// journal does) and fdatasync it, started together; a sample is the time
// until both are done.
func probeMajoritySync(ctx context.Context, dir string, n int, budget time.Duration) ([]time.Duration, error) {
	const region = 1 << 20
	var files [2]*os.File
	for i := range files {
		path := filepath.Join(dir, fmt.Sprintf("probe.majority%d", i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, err
		}
		defer os.Remove(path)
		defer f.Close()
		if _, err := f.Write(make([]byte, region)); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		files[i] = f
	}
	buf := make([]byte, 64)
	var out []time.Duration
	deadline := time.Now().Add(budget)
	errc := make(chan error, len(files))
	for i := 0; i < n && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		off := int64(i*len(buf)) % region
		t0 := time.Now()
		for _, f := range files {
			go func(f *os.File) {
				if _, err := f.WriteAt(buf, off); err != nil {
					errc <- err
					return
				}
				errc <- syscall.Fdatasync(int(f.Fd()))
			}(f)
		}
		var first error
		for range files {
			if err := <-errc; err != nil && first == nil {
				first = err
			}
		}
		if first != nil {
			return out, first
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

func probeRTT(ctx context.Context, n int, budget time.Duration) ([]time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client closes
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(budget)
	c.SetDeadline(deadline.Add(time.Second))
	var out []time.Duration
	buf := make([]byte, 8)
	for i := 0; i < n && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			c.Close()
			<-served
			return out, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			c.Close()
			<-served
			return out, err
		}
		out = append(out, time.Since(t0))
	}
	c.Close()
	<-served
	return out, nil
}
