package apicompat

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Status says how one member of hashicorp/raft's API appears in the facade.
type Status string

const (
	// Same: the facade has it with the identical signature, as a Pontoon
	// identifier of the same name (an alias or a forwarding function), or as
	// a field or method of such a type.
	Same Status = "same"
	// Renamed: identical signature, but Pontoon's own identifier behind it has
	// another name.
	Renamed Status = "renamed"
	// Shim: identical signature, supplied by code in the facade that adapts
	// Pontoon's differing identifier.
	Shim Status = "shim"
	// Differs: present with another signature.
	Differs Status = "differs"
	// Missing: not in the facade.
	Missing Status = "missing"
	// Added: in the facade (or on a type it aliases) but not in hashicorp/raft.
	Added Status = "added"
)

// Result is the comparison of one API member.
type Result struct {
	Key    string
	Status Status
	Want   string // hashicorp/raft's description ("" when Added)
	Got    string // the facade's description ("" when Missing)
	Origin string // the Pontoon identifier behind a top-level facade name
	// Breaking marks an Added member that third-party code can trip over:
	// an extra method on an interface, which their implementations lack.
	Breaking bool
}

// OK reports whether the member needs no entry in the allow-list.
func (r Result) OK() bool {
	switch r.Status {
	case Same, Renamed, Shim:
		return true
	case Added:
		return !r.Breaking
	}
	return false
}

// Compare matches every exported member of want (hashicorp/raft) against got
// (the facade). srcDir and files are the facade's sources, read to tell
// forwarding functions from shims; pontoon is the module path of Pontoon.
func Compare(want, got *types.Package, srcDir string, files []string, pontoon string) ([]Result, error) {
	n := newNamer()
	n.claim(want)
	n.claim(got)
	w := n.describe(want)
	g := n.describe(got)
	origins, err := forwards(srcDir, files, pontoon)
	if err != nil {
		return nil, err
	}
	// Types: the facade's alias names its origin directly.
	scope := got.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || !tn.IsAlias() {
			continue
		}
		if named, ok := types.Unalias(tn.Type()).(*types.Named); ok && named.Obj().Pkg() != nil {
			origins[name] = shortName(named.Obj().Pkg().Path(), pontoon) + "." + named.Obj().Name()
		}
	}

	var out []Result
	for key, we := range w {
		ge, ok := g[key]
		r := Result{Key: key, Want: we.Desc}
		switch {
		case !ok:
			r.Status = Missing
		case ge.Desc != we.Desc || (we.Value && !ge.Value):
			r.Status = Differs
			r.Got = ge.Desc
		default:
			r.Got = ge.Desc
			r.Status = Same
			if !strings.Contains(key, ".") {
				r.Origin = origins[key]
				switch {
				case r.Origin == "":
					r.Status = Shim
				case r.Origin[strings.LastIndex(r.Origin, ".")+1:] != key:
					r.Status = Renamed
				}
			}
		}
		out = append(out, r)
	}
	for key, ge := range g {
		if _, ok := w[key]; ok {
			continue
		}
		r := Result{Key: key, Status: Added, Got: ge.Desc, Origin: origins[key]}
		if ge.InInterface {
			// Only an interface hashicorp/raft also has can be implemented
			// by third-party code written against it.
			owner := key[:strings.Index(key, ".")]
			if _, shared := w[owner]; shared {
				r.Breaking = true
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// forwards reads the facade's sources and returns, for each top-level
// function, variable or constant that only passes a Pontoon identifier on
// (`func F(a, b) R { return pkg.F(a, b) }`, `var X = pkg.X`, `const C =
// pkg.C`), that identifier as "pkg.Name".
func forwards(dir string, files []string, pontoon string) (map[string]string, error) {
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		imports := map[string]string{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = shortName(path, pontoon)
		}
		selector := func(e ast.Expr) string {
			sel, ok := e.(*ast.SelectorExpr)
			if !ok {
				return ""
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok || imports[x.Name] == "" {
				return ""
			}
			return imports[x.Name] + "." + sel.Sel.Name
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil || d.Body == nil || len(d.Body.List) != 1 {
					continue
				}
				if target := forwardedCall(d, d.Body.List[0], selector); target != "" {
					out[d.Name.Name] = target
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok || vs.Type != nil || len(vs.Names) != len(vs.Values) {
						continue
					}
					for i, id := range vs.Names {
						if target := selector(vs.Values[i]); target != "" {
							out[id.Name] = target
						}
					}
				}
			}
		}
	}
	return out, nil
}

// forwardedCall returns "pkg.Name" when stmt is `return pkg.Name(p1, ..., pn)`
// (or a bare call) with fn's parameters in order.
func forwardedCall(fn *ast.FuncDecl, stmt ast.Stmt, selector func(ast.Expr) string) string {
	var call *ast.CallExpr
	switch s := stmt.(type) {
	case *ast.ReturnStmt:
		if len(s.Results) != 1 {
			return ""
		}
		call, _ = s.Results[0].(*ast.CallExpr)
	case *ast.ExprStmt:
		call, _ = s.X.(*ast.CallExpr)
	}
	if call == nil {
		return ""
	}
	var params []string
	for _, field := range fn.Type.Params.List {
		for _, id := range field.Names {
			params = append(params, id.Name)
		}
	}
	if len(params) != len(call.Args) {
		return ""
	}
	for i, a := range call.Args {
		id, ok := a.(*ast.Ident)
		if !ok || id.Name != params[i] {
			return ""
		}
	}
	return selector(call.Fun)
}

// shortName names a package for the report: Pontoon's packages by their
// path inside the module ("raftimpl", "logstore", root as "raft"), others by
// their full import path.
func shortName(path, pontoon string) string {
	switch {
	case path == pontoon:
		return "raft"
	case strings.HasPrefix(path, pontoon+"/"):
		return strings.TrimPrefix(path, pontoon+"/")
	}
	return path
}
