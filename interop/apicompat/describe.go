package apicompat

import (
	"fmt"
	"go/types"
	"sort"
	"strings"
)

// namer prints types so that two packages can be compared: a named type
// that one side calls raft.X prints as "raft.X" whatever package really
// declares it, and every other type prints with its full package path.
type namer struct {
	canon map[*types.TypeName]string
}

func newNamer() *namer { return &namer{canon: map[*types.TypeName]string{}} }

// claim makes every type declared in pkg print as "raft.<name>".
func (n *namer) claim(pkg *types.Package) {
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		if a, ok := tn.Type().(*types.Alias); ok {
			if named, ok := types.Unalias(a).(*types.Named); ok {
				origin := named.Origin().Obj()
				if _, seen := n.canon[origin]; !seen || origin.Name() == name {
					n.canon[origin] = "raft." + name
				}
			}
			continue
		}
		n.canon[tn] = "raft." + name
	}
}

func (n *namer) typ(t types.Type) string {
	var b strings.Builder
	n.write(&b, t)
	return b.String()
}

func (n *namer) write(b *strings.Builder, t types.Type) {
	switch t := t.(type) {
	case *types.Alias:
		n.write(b, types.Unalias(t))
	case *types.Basic:
		switch t.Kind() {
		case types.Byte:
			b.WriteString("uint8")
		case types.Rune:
			b.WriteString("int32")
		default:
			b.WriteString(t.Name())
		}
	case *types.Named:
		obj := t.Origin().Obj()
		if s, ok := n.canon[obj]; ok {
			b.WriteString(s)
		} else if obj.Pkg() == nil {
			b.WriteString(obj.Name()) // error, comparable
		} else {
			b.WriteString(obj.Pkg().Path() + "." + obj.Name())
		}
		if args := t.TypeArgs(); args != nil && args.Len() > 0 {
			b.WriteByte('[')
			for i := 0; i < args.Len(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				n.write(b, args.At(i))
			}
			b.WriteByte(']')
		}
	case *types.Pointer:
		b.WriteByte('*')
		n.write(b, t.Elem())
	case *types.Slice:
		b.WriteString("[]")
		n.write(b, t.Elem())
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		n.write(b, t.Elem())
	case *types.Map:
		b.WriteString("map[")
		n.write(b, t.Key())
		b.WriteByte(']')
		n.write(b, t.Elem())
	case *types.Chan:
		switch t.Dir() {
		case types.SendRecv:
			b.WriteString("chan ")
		case types.SendOnly:
			b.WriteString("chan<- ")
		case types.RecvOnly:
			b.WriteString("<-chan ")
		}
		n.write(b, t.Elem())
	case *types.Signature:
		b.WriteString("func")
		n.signature(b, t)
	case *types.Struct:
		b.WriteString("struct{")
		for i := 0; i < t.NumFields(); i++ {
			if i > 0 {
				b.WriteString("; ")
			}
			f := t.Field(i)
			if !f.Embedded() {
				b.WriteString(f.Name() + " ")
			}
			n.write(b, f.Type())
			if tag := t.Tag(i); tag != "" {
				fmt.Fprintf(b, " %q", tag)
			}
		}
		b.WriteByte('}')
	case *types.Interface:
		var ms []string
		for i := 0; i < t.NumMethods(); i++ {
			m := t.Method(i)
			var mb strings.Builder
			mb.WriteString(m.Name())
			n.signature(&mb, m.Type().(*types.Signature))
			ms = append(ms, mb.String())
		}
		sort.Strings(ms)
		b.WriteString("interface{" + strings.Join(ms, "; ") + "}")
	case *types.Tuple:
		n.tuple(b, t, false)
	case *types.TypeParam:
		b.WriteString(t.Obj().Name())
	default:
		b.WriteString(t.String())
	}
}

func (n *namer) signature(b *strings.Builder, s *types.Signature) {
	n.tuple(b, s.Params(), s.Variadic())
	switch r := s.Results(); r.Len() {
	case 0:
	case 1:
		b.WriteByte(' ')
		n.write(b, r.At(0).Type())
	default:
		b.WriteByte(' ')
		n.tuple(b, r, false)
	}
}

func (n *namer) tuple(b *strings.Builder, t *types.Tuple, variadic bool) {
	b.WriteByte('(')
	for i := 0; i < t.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			b.WriteString("...")
			typ = typ.(*types.Slice).Elem()
		}
		n.write(b, typ)
	}
	b.WriteByte(')')
}

// Entry is one exported member of a package's API: a top-level identifier
// ("NewRaft"), a field or method of a type ("Config.LocalID", "Raft.Apply").
type Entry struct {
	Key  string // "Name" or "Type.Member"
	Desc string // kind and signature, with types printed by the namer
	// ValueOnly is set for a method that is in the type's value method set,
	// so that it can be called on a value as well as on a pointer.
	Value bool
	// InInterface is set for a method of an interface type: there an extra
	// method is not harmless, since implementations outside the package lack it.
	InInterface bool
}

// Describe lists every exported member of pkg with its signature.
func (n *namer) describe(pkg *types.Package) map[string]Entry {
	out := map[string]Entry{}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Const:
			out[name] = Entry{Key: name, Desc: "const " + n.typ(obj.Type()) + " = " + obj.Val().ExactString()}
		case *types.Var:
			out[name] = Entry{Key: name, Desc: "var " + n.typ(obj.Type())}
		case *types.Func:
			var b strings.Builder
			b.WriteString("func")
			n.signature(&b, obj.Type().(*types.Signature))
			out[name] = Entry{Key: name, Desc: b.String()}
		case *types.TypeName:
			n.describeType(out, name, obj.Type())
		}
	}
	// An unexported type that exported signatures hand out (MakeCluster's
	// *cluster) is part of the API through its exported methods.
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || tn.Exported() || !mentioned(out, "raft."+name) {
			continue
		}
		n.describeType(out, name, tn.Type())
	}
	return out
}

// mentioned reports whether some description in entries names the type
// qualified (as a whole word).
func mentioned(entries map[string]Entry, qualified string) bool {
	for _, e := range entries {
		for rest := e.Desc; ; {
			i := strings.Index(rest, qualified)
			if i < 0 {
				break
			}
			rest = rest[i+len(qualified):]
			if rest == "" || !isIdentChar(rest[0]) {
				return true
			}
		}
	}
	return false
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (n *namer) describeType(out map[string]Entry, name string, t types.Type) {
	under := types.Unalias(t).Underlying()
	var desc string
	switch u := under.(type) {
	case *types.Struct:
		desc = "type struct"
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			kind := "field "
			if f.Embedded() {
				kind = "embedded field "
			}
			key := name + "." + f.Name()
			out[key] = Entry{Key: key, Desc: kind + n.typ(f.Type())}
		}
	case *types.Interface:
		desc = "type interface"
		for i := 0; i < u.NumMethods(); i++ {
			m := u.Method(i)
			key := name + "." + m.Name()
			if !m.Exported() {
				key = name + ".<unexported " + m.Name() + ">"
			}
			var b strings.Builder
			b.WriteString("method")
			n.signature(&b, m.Type().(*types.Signature))
			out[key] = Entry{Key: key, Desc: b.String(), InInterface: true}
		}
		out[name] = Entry{Key: name, Desc: desc}
		return
	default:
		desc = "type " + n.typ(under)
	}
	out[name] = Entry{Key: name, Desc: desc}
	// Methods, promoted ones included, callable on a *T.
	value := types.NewMethodSet(t)
	ptr := types.NewMethodSet(types.NewPointer(t))
	for i := 0; i < ptr.Len(); i++ {
		m := ptr.At(i).Obj()
		if !m.Exported() {
			continue
		}
		key := name + "." + m.Name()
		var b strings.Builder
		b.WriteString("method")
		n.signature(&b, m.Type().(*types.Signature))
		out[key] = Entry{Key: key, Desc: b.String(), Value: value.Lookup(m.Pkg(), m.Name()) != nil}
	}
}
