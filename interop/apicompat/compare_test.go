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
	hashicorpPath  = "github.com/hashicorp/raft"
	facadePath     = "github.com/pontoon-raft/raft/adapters/hcraft"
	pontoonPath    = "github.com/pontoon-raft/raft"
	boltPath       = "github.com/hashicorp/raft-boltdb/v2"
	boltFacadePath = "github.com/pontoon-raft/raft/adapters/raftboltdb"
	docPath        = "../../docs/hcraft-api.md"
)

var update = flag.Bool("update", false, "rewrite docs/hcraft-api.md from the comparison")

// compare loads both packages, and both bench subpackages, and compares
// them; the subpackage's keys start with "bench.".
func compare(t *testing.T) []Result {
	t.Helper()
	pkgs, listedPkgs, err := Load(".", hashicorpPath, facadePath, hashicorpPath+"/bench", facadePath+"/bench", boltPath, boltFacadePath)
	if err != nil {
		t.Fatal(err)
	}
	l := listedPkgs[facadePath]
	results, err := Compare(pkgs[hashicorpPath], pkgs[facadePath], l.Dir, l.GoFiles, pontoonPath)
	if err != nil {
		t.Fatal(err)
	}
	l = listedPkgs[facadePath+"/bench"]
	bench, err := Compare(pkgs[hashicorpPath+"/bench"], pkgs[facadePath+"/bench"], l.Dir, l.GoFiles, pontoonPath,
		pkgs[hashicorpPath], pkgs[facadePath])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bench {
		r.Key = "bench." + r.Key
		results = append(results, r)
	}
	l = listedPkgs[boltFacadePath]
	bolt, err := Compare(pkgs[boltPath], pkgs[boltFacadePath], l.Dir, l.GoFiles, pontoonPath,
		pkgs[hashicorpPath], pkgs[facadePath])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bolt {
		r.Key = "raftboltdb." + r.Key
		results = append(results, r)
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
	if err != nil {
		t.Fatal(err)
	}
	if string(old) == doc {
		return
	}
	abs, _ := filepath.Abs(docPath)
	// The list of missing and different members must be exact; the rest of
	// the table (what is the same, what Pontoon adds) moves whenever
	// Pontoon's API grows, so a stale copy is only reported.
	if section(string(old), "## Missing or different") != section(doc, "## Missing or different") {
		t.Errorf("%s: the missing or different members are out of date: run go test -run TestFacadeAPI -update in interop/apicompat", abs)
	} else {
		t.Logf("NOTE: %s is out of date (same and added members): run go test -run TestFacadeAPI -update in interop/apicompat", abs)
	}
}

// section returns the part of a markdown document from the heading to the
// next heading of the same level.
func section(doc, heading string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading)+1:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
