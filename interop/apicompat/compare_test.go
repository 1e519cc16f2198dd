package apicompat

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	hashicorpPath = "github.com/hashicorp/raft"
	facadePath    = "github.com/pontoon-raft/raft/adapters/hcraft"
	pontoonPath   = "github.com/pontoon-raft/raft"
	docPath       = "../../docs/hcraft-api.md"
)

var update = flag.Bool("update", false, "rewrite docs/hcraft-api.md from the comparison")

// compare loads both packages and compares them.
func compare(t *testing.T) []Result {
	t.Helper()
	pkgs, listedPkgs, err := Load(".", hashicorpPath, facadePath)
	if err != nil {
		t.Fatal(err)
	}
	l := listedPkgs[facadePath]
	results, err := Compare(pkgs[hashicorpPath], pkgs[facadePath], l.Dir, l.GoFiles, pontoonPath)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// readAllowList reads allowlist.txt: "Key<TAB>status<TAB>reason" lines;
// blank lines and lines starting with # are skipped.
func readAllowList(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := os.Open("allowlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || parts[2] == "" {
			t.Fatalf("allowlist.txt:%d: want \"Key<TAB>status<TAB>reason\", got %q", n, line)
		}
		if _, dup := out[parts[0]]; dup {
			t.Fatalf("allowlist.txt:%d: %s listed twice", n, parts[0])
		}
		out[parts[0]] = [2]string{parts[1], parts[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFacadeAPI checks that adapters/hcraft has every exported member of
// hashicorp/raft v1.8.0 with the same signature, except the ones the
// allow-list names with a reason, and that no allow-list entry is stale.
func TestFacadeAPI(t *testing.T) {
	results := compare(t)
	allow := readAllowList(t)
	seen := map[string]bool{}
	for _, r := range results {
		if r.OK() {
			continue
		}
		a, ok := allow[r.Key]
		switch {
		case !ok:
			t.Errorf("%s: %s (hashicorp: %q, facade: %q)", r.Key, r.Status, r.Want, r.Got)
		case a[0] != string(r.Status):
			t.Errorf("%s: allow-list says %s, comparison says %s (hashicorp: %q, facade: %q)", r.Key, a[0], r.Status, r.Want, r.Got)
		}
		seen[r.Key] = true
	}
	for key := range allow {
		if !seen[key] {
			t.Errorf("allowlist.txt: %s is stale: the facade now matches hashicorp/raft; delete the line", key)
		}
	}
	doc := Markdown(results, allow)
	if *update {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(docPath)
	if err != nil || string(old) != doc {
		abs, _ := filepath.Abs(docPath)
		t.Errorf("%s is not up to date: run go test -run TestFacadeAPI -update in interop/apicompat", abs)
	}
}
