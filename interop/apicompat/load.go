package apicompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
)

// listed is what `go list -export -json` tells about one package.
type listed struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
}

// Load type-checks the packages named by paths from their compiler export
// data, which `go list -export` builds in the module rooted at dir (so the
// versions are the ones that module's go.mod selects). It returns the packages
// by import path, plus each requested package's source directory and files.
func Load(dir string, paths ...string) (map[string]*types.Package, map[string]listed, error) {
	args := append([]string{"list", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles"}, paths...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list in %s: %v: %s", dir, err, stderr.String())
	}
	byPath := map[string]listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var l listed
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("go list output: %v", err)
		}
		byPath[l.ImportPath] = l
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		l, ok := byPath[path]
		if !ok || l.Export == "" {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(l.Export)
	})
	pkgs := map[string]*types.Package{}
	for _, p := range paths {
		pkg, err := imp.Import(p)
		if err != nil {
			return nil, nil, fmt.Errorf("import %s: %v", p, err)
		}
		pkgs[p] = pkg
	}
	return pkgs, byPath, nil
}
