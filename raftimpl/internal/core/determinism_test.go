package core

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeterministicImports keeps the core (and the leaf packages it uses)
// free of clocks, I/O, concurrency and global randomness: the simulator's
// reproducibility depends on it.
func TestDeterministicImports(t *testing.T) {
	forbidden := []string{"time", "os", "net", "sync", "syscall", "io/ioutil", "log", "unsafe", "runtime", "crypto/rand", "math/rand/v2"}
	// math/rand is allowed for rand.New(rand.NewSource(seed)) only.
	allowedRand := map[string]bool{"New": true, "NewSource": true, "Rand": true, "Source": true}
	for _, dir := range []string{".", "../tracker", "../quorum"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			randName := ""
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if p == bad || strings.HasPrefix(p, bad+"/") {
						t.Errorf("%s imports %q", path, p)
					}
				}
				if p == "math/rand" {
					randName = "rand"
					if imp.Name != nil {
						randName = imp.Name.Name
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: go statement", fset.Position(n.Pos()))
				case *ast.ChanType:
					t.Errorf("%s: channel type", fset.Position(n.Pos()))
				case *ast.SendStmt:
					t.Errorf("%s: channel send", fset.Position(n.Pos()))
				case *ast.SelectStmt:
					t.Errorf("%s: select", fset.Position(n.Pos()))
				case *ast.UnaryExpr:
					if n.Op == token.ARROW {
						t.Errorf("%s: channel receive", fset.Position(n.Pos()))
					}
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && randName != "" && id.Name == randName && !allowedRand[n.Sel.Name] {
						t.Errorf("%s: global math/rand use: %s.%s", fset.Position(n.Pos()), id.Name, n.Sel.Name)
					}
				}
				return true
			})
		}
	}
}
