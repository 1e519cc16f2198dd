package thirdparty

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goCmd returns a `go` command run in dir that must not touch the network
// or change go.mod and go.sum: everything it needs was fetched by
// `go mod download` (as CI does before the tests).
func goCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOPROXY=off",
		"GOWORK=off",
	)
	return cmd
}

// run runs cmd, failing t with its output if it fails; it returns the output.
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s (%v)", strings.Join(cmd.Args[1:], " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
	}
	return out.String()
}
