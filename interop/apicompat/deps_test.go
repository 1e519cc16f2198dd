package apicompat

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The adapters stand in for HashiCorp's modules, so they must not depend on
// them: neither their packages nor their go.mod files.
func TestAdaptersDoNotDependOnHashicorp(t *testing.T) {
	banned := []string{"github.com/hashicorp/raft", "github.com/hashicorp/raft-boltdb"}
	for _, pkg := range []string{facadePath, facadePath + "/bench", boltFacadePath} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
	for _, gomod := range []string{"../../adapters/hcraft/go.mod", "../../adapters/raftboltdb/go.mod"} {
		b, err := os.ReadFile(gomod)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, f := range strings.Fields(line) {
				for _, m := range banned {
					if f == m || strings.HasPrefix(f, m+"/") {
						t.Errorf("%s requires %s", gomod, f)
					}
				}
			}
		}
	}
}
