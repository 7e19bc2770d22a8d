package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Usage (from the module root):
//
//	go run ./internal/apirecord          # print the API of every library package
//	go run ./internal/apirecord -count   # print the exported-identifier count per package
//	go run ./internal/apirecord -w       # rewrite the record in api/
func main() {
	write := flag.Bool("w", false, "rewrite the API record in api/ (one file per package)")
	count := flag.Bool("count", false, "print the exported-identifier count per package")
	flag.Parse()
	if err := run(".", *write, *count); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(root string, write, count bool) error {
	pkgs, err := Load(root)
	if err != nil {
		return err
	}
	switch {
	case write:
		return WriteRecord(root, pkgs)
	case count:
		var total Count
		fmt.Printf("%-40s %6s %6s %6s %6s\n", "package", "top", "method", "field", "total")
		for _, p := range pkgs {
			c := p.Count
			fmt.Printf("%-40s %6d %6d %6d %6d\n", strings.TrimPrefix(p.Path, Module+"/"), c.TopLevel, c.Methods, c.Fields, c.Total())
			total.TopLevel += c.TopLevel
			total.Methods += c.Methods
			total.Fields += c.Fields
		}
		fmt.Printf("%-40s %6d %6d %6d %6d\n", "(library)", total.TopLevel, total.Methods, total.Fields, total.Total())
	default:
		for _, p := range pkgs {
			for _, l := range p.Lines {
				fmt.Println(l)
			}
		}
	}
	return nil
}

// RecordDir is the directory, relative to the module root, of the checked-in API record.
const RecordDir = "api"

// RecordFile is the record file of the package at path: api/secrets.txt,
// api/secrets_jsoncrypto.txt, ...
func RecordFile(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, Module), "/")
	return filepath.Join(RecordDir, strings.ReplaceAll(rel, "/", "_")+".txt")
}

// Text is the content of a package's record file.
func (p Package) Text() string {
	return strings.Join(p.Lines, "\n") + "\n"
}

// WriteRecord replaces the record in root/api with pkgs.
func WriteRecord(root string, pkgs []Package) error {
	dir := filepath.Join(root, RecordDir)
	old, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range pkgs {
		if err := os.WriteFile(filepath.Join(root, RecordFile(p.Path)), []byte(p.Text()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
