package thirdparty

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceThroughReplace builds and runs testdata/service, a small
// service written against hashicorp/raft and raft-boltdb/v2 (NewRaft,
// DefaultConfig, NewTCPTransport, raft-boltdb's NewBoltStore,
// BootstrapCluster, Apply, Snapshot, Shutdown, a restart from disk), in a
// module of its own whose go.mod differs from a hashicorp/raft service's only
// by the replace lines. It runs twice: with raft-boltdb/v2 itself, and with
// raft-boltdb/v2 replaced by adapters/raftboltdb as well. The go.mod pins no
// go-metrics version although raft-boltdb/v2 and serf (linked in) import
// go-metrics/compat.
func TestServiceThroughReplace(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name     string
		replaces []string
	}{
		{"hcraft", []string{
			"github.com/hashicorp/raft=" + filepath.Join(root, "adapters/hcraft"),
		}},
		{"hcraft+raftboltdb", []string{
			"github.com/hashicorp/raft=" + filepath.Join(root, "adapters/hcraft"),
			"github.com/hashicorp/raft-boltdb/v2=" + filepath.Join(root, "adapters/raftboltdb"),
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, "testdata/service/main.go", filepath.Join(dir, "main.go"))
			// This module's go.mod (made by go mod tidy from its
			// requirements: hashicorp/raft v1.8.0, raft-boltdb/v2 v2.3.1,
			// serf v0.10.4, ...) and go.sum, under the service's module
			// path and with the variant's replace lines.
			copyFile(t, "go.mod", filepath.Join(dir, "go.mod"))
			copyFile(t, "go.sum", filepath.Join(dir, "go.sum"))
			edit := []string{"mod", "edit", "-module", "example.com/service",
				"-dropreplace", "github.com/hashicorp/raft",
				"-replace", "github.com/pontoon-raft/raft=" + root}
			for _, r := range v.replaces {
				edit = append(edit, "-replace", r)
			}
			run(t, goCmd(t, dir, edit...))
			after, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(after), "github.com/hashicorp/go-metrics =>") {
				t.Fatal("the service's go.mod pins go-metrics")
			}
			t.Logf("go-metrics selected: %s", strings.TrimSpace(run(t, goCmd(t, dir, "list", "-m", "github.com/hashicorp/go-metrics"))))
			out := run(t, goCmd(t, dir, "run", "."))
			if strings.TrimSpace(out) != "ok" {
				t.Fatalf("service printed %q, want \"ok\"", out)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
