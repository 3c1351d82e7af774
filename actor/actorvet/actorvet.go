package actorvet

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Finding is one violation.
type Finding struct {
	Pos     token.Position // file:line:col of the offending node
	Rule    string         // short rule id, e.g. "go-statement"; see the package documentation
	Message string         // human sentence explaining the rule and what to do instead
}

// String formats f the way compilers and vet do, so editors can jump to it:
// "file.go:12:3: [go-statement] go statement: ...".
func (f Finding) String() string {
	return fmt.Sprintf("%s: [%s] %s", f.Pos, f.Rule, f.Message)
}

// Check parses the non-test .go files (skipping *_test.go) of the single package in dir and
// returns every finding, sorted by file, line and column. It errors only when the directory
// cannot be read or parsed, or holds no files to check.
func Check(dir string) ([]Finding, error) {
	fset := token.NewFileSet()
	files, err := parseDir(fset, dir)
	if err != nil {
		return nil, err
	}
	asts := make([]*ast.File, len(files))
	for i, f := range files {
		asts[i] = f.ast
	}
	info := typeCheck(fset, dir, asts)
	var findings []Finding
	for _, f := range files {
		findings = append(findings, checkFile(fset, f, info)...)
	}
	sortFindings(findings)
	return findings, nil
}

// sourceFile is a parsed file together with its source, which the escape-hatch check needs to
// tell a comment that stands alone on its line from one that trails code.
type sourceFile struct {
	ast *ast.File
	src []byte
}

// parseDir parses the files of dir that the go tool would compile into the package proper.
func parseDir(fset *token.FileSet, dir string) ([]sourceFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("actorvet: read %s: %w", dir, err)
	}
	var files []sourceFile
	for _, e := range entries {
		if e.IsDir() || !isPackageSource(e.Name()) {
			continue
		}
		f, err := parseFile(fset, filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	// An empty result is almost always a mistyped path; failing loudly beats passing vacuously.
	if len(files) == 0 {
		return nil, fmt.Errorf("actorvet: %s: no non-test Go files to check", dir)
	}
	return files, nil
}

// isPackageSource reports whether name is a non-test Go file. Like the go tool, it ignores
// names starting with "." or "_", which editors and generators use for scratch files.
func isPackageSource(name string) bool {
	return strings.HasSuffix(name, ".go") &&
		!strings.HasSuffix(name, "_test.go") &&
		!strings.HasPrefix(name, ".") &&
		!strings.HasPrefix(name, "_")
}

func parseFile(fset *token.FileSet, path string) (sourceFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return sourceFile{}, fmt.Errorf("actorvet: read %s: %w", path, err)
	}
	// Object resolution is skipped: the rules match import names, not resolved objects.
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return sourceFile{}, fmt.Errorf("actorvet: parse %s: %w", path, err)
	}
	return sourceFile{ast: f, src: src}, nil
}

// sortFindings orders findings by position; the rule breaks ties so that output is stable
// when two rules fire at the same spot.
func sortFindings(findings []Finding) {
	sort.Slice(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Pos.Filename != b.Pos.Filename {
			return a.Pos.Filename < b.Pos.Filename
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		return a.Rule < b.Rule
	})
}
