// Command apirecord lists the exported API of the library's packages in the format of the Go
// project's api/ files (one declaration a line, sorted), so that a checked-in record and a
// test can catch an API change nobody meant to make.
//
// The API is read with go/types from the compiler's export data (go list -export), so it is
// what a user's program sees for the default build (cgo enabled where the toolchain has it).
// The library packages are the module's packages outside internal/ and examples/.
//
// Lines, as cmd/api writes them:
//
//	pkg P, const Name T                  (or ideal-int, ideal-string, ... for untyped constants)
//	pkg P, var Name T
//	pkg P, func Name(params) results     (parameter names dropped)
//	pkg P, type Name struct              (one more line per exported field: type Name struct, F T)
//	pkg P, type Name interface { M1, M2 } (one more line per method: type Name interface, M1(...) ...)
//	pkg P, type Name T                   (any other defined type or alias)
//	pkg P, method (*Name) M(params) results
//
// # Counting rule
//
// [Count] counts, per package, every exported top-level name (constant, variable, function,
// type), every exported method of an exported type (interface methods included), and every
// exported struct field of an exported struct type (embedded fields included); that is, one
// per line of the record (an interface type's summary line is its top-level entry).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/constant"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Module is the path of the module whose API is recorded.
const Module = "github.com/secretstores/secretstores"

// A Package is the recorded API of one package.
type Package struct {
	Path  string   // import path, e.g. github.com/secretstores/secretstores/secrets
	Lines []string // sorted api/ lines
	Count Count
}

// Count is the exported-identifier count of one package (see the package comment's rule).
type Count struct {
	TopLevel int // constants, variables, functions, types
	Methods  int // methods of exported types, interface methods included
	Fields   int // exported fields of exported struct types
}

// Total is TopLevel+Methods+Fields.
func (c Count) Total() int { return c.TopLevel + c.Methods + c.Fields }

type listed struct {
	ImportPath string
	Export     string
	Name       string
}

// Load lists the library packages of the module rooted at dir and returns their API, sorted
// by import path. env is added to the go command's environment (e.g. CGO_ENABLED=0).
func Load(dir string, env ...string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export,Name", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("apirecord: go list -export: %v\n%s", err, errOut.String())
	}
	exports := map[string]string{}
	var lib []string
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("apirecord: go list output: %v", err)
		}
		exports[p.ImportPath] = p.Export
		if IsLibrary(p.ImportPath) && p.Name != "main" {
			lib = append(lib, p.ImportPath)
		}
	}
	sort.Strings(lib)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("apirecord: no export data for %s", path)
		}
		return os.Open(f)
	})
	var pkgs []Package
	for _, path := range lib {
		tp, err := imp.Import(path)
		if err != nil {
			return nil, fmt.Errorf("apirecord: %s: %v", path, err)
		}
		pkgs = append(pkgs, describe(tp))
	}
	return pkgs, nil
}

// IsLibrary reports whether path is a library package: in the module, outside internal/ and
// examples/.
func IsLibrary(path string) bool {
	rel, ok := strings.CutPrefix(path, Module)
	if !ok || (rel != "" && rel[0] != '/') {
		return false
	}
	for _, elem := range strings.Split(strings.TrimPrefix(rel, "/"), "/") {
		if elem == "internal" || elem == "examples" || elem == "testdata" {
			return false
		}
	}
	return true
}

func describe(pkg *types.Package) Package {
	p := Package{Path: pkg.Path()}
	qual := func(other *types.Package) string {
		if other == pkg {
			return ""
		}
		return other.Name()
	}
	tstr := func(t types.Type) string { return types.TypeString(t, qual) }
	prefix := "pkg " + pkg.Path() + ", "
	add := func(s string) { p.Lines = append(p.Lines, prefix+s) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		p.Count.TopLevel++
		switch obj := obj.(type) {
		case *types.Const:
			t := obj.Type()
			if b, ok := t.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
				add(fmt.Sprintf("const %s %s", name, idealName(obj.Val())))
			} else {
				add(fmt.Sprintf("const %s %s", name, tstr(t)))
			}
		case *types.Var:
			add(fmt.Sprintf("var %s %s", name, tstr(obj.Type())))
		case *types.Func:
			add(fmt.Sprintf("func %s%s", name, sigString(obj.Type().(*types.Signature), tstr)))
		case *types.TypeName:
			describeType(&p, obj, tstr, add)
		}
	}
	sort.Strings(p.Lines)
	return p
}

func idealName(v constant.Value) string {
	switch v.Kind() {
	case constant.Bool:
		return "ideal-bool"
	case constant.String:
		return "ideal-string"
	case constant.Int:
		return "ideal-int"
	case constant.Float:
		return "ideal-float"
	case constant.Complex:
		return "ideal-complex"
	}
	return "ideal"
}

func describeType(p *Package, obj *types.TypeName, tstr func(types.Type) string, add func(string)) {
	name := obj.Name()
	tparams := ""
	if named, ok := obj.Type().(*types.Named); ok && named.TypeParams().Len() > 0 {
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < named.TypeParams().Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			tp := named.TypeParams().At(i)
			b.WriteString(tp.Obj().Name() + " " + tstr(tp.Constraint()))
		}
		b.WriteString("]")
		tparams = b.String()
	}
	if obj.IsAlias() {
		add(fmt.Sprintf("type %s = %s", name, tstr(obj.Type())))
		return
	}
	under := obj.Type().Underlying()
	switch u := under.(type) {
	case *types.Struct:
		add(fmt.Sprintf("type %s%s struct", name, tparams))
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			p.Count.Fields++
			if f.Embedded() {
				add(fmt.Sprintf("type %s struct, embedded %s", name, tstr(f.Type())))
			} else {
				add(fmt.Sprintf("type %s struct, %s %s", name, f.Name(), tstr(f.Type())))
			}
		}
	case *types.Interface:
		var names []string
		for i := 0; i < u.NumMethods(); i++ {
			m := u.Method(i)
			if !m.Exported() {
				names = append(names, "unexported methods")
				continue
			}
			names = append(names, m.Name())
			p.Count.Methods++
			add(fmt.Sprintf("type %s interface, %s%s", name, m.Name(), sigString(m.Type().(*types.Signature), tstr)))
		}
		sort.Strings(names)
		names = dedup(names)
		add(fmt.Sprintf("type %s%s interface { %s }", name, tparams, strings.Join(names, ", ")))
		return
	case *types.Signature:
		add(fmt.Sprintf("type %s%s func%s", name, tparams, sigString(u, tstr)))
	default:
		add(fmt.Sprintf("type %s%s %s", name, tparams, tstr(under)))
	}
	named, ok := obj.Type().(*types.Named)
	if !ok {
		return
	}
	for i := 0; i < named.NumMethods(); i++ {
		m := named.Method(i)
		if !m.Exported() {
			continue
		}
		p.Count.Methods++
		sig := m.Type().(*types.Signature)
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		add(fmt.Sprintf("method (%s) %s%s", recv, m.Name(), sigString(sig, tstr)))
	}
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// sigString is a signature without parameter names, as cmd/api writes it.
func sigString(sig *types.Signature, tstr func(types.Type) string) string {
	var b strings.Builder
	b.WriteString("(")
	params := sig.Params()
	for i := 0; i < params.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		t := params.At(i).Type()
		if sig.Variadic() && i == params.Len()-1 {
			b.WriteString("..." + tstr(t.(*types.Slice).Elem()))
		} else {
			b.WriteString(tstr(t))
		}
	}
	b.WriteString(")")
	res := sig.Results()
	switch res.Len() {
	case 0:
	case 1:
		b.WriteString(" " + tstr(res.At(0).Type()))
	default:
		b.WriteString(" (")
		for i := 0; i < res.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tstr(res.At(i).Type()))
		}
		b.WriteString(")")
	}
	return b.String()
}
