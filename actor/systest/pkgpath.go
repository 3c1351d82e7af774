package systest

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// testPackage returns the import path of the package whose test is running on this goroutine:
// the package of the outermost function below the testing package's runner. It returns "" when
// it cannot tell (no test on the stack).
func testPackage() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var outer runtime.Frame
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "testing.") {
			break
		}
		if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") {
			outer = f
		}
		if !more {
			break
		}
	}
	if outer.Function == "" {
		return ""
	}
	pkg := funcPackage(outer.Function)
	if pkg == "" || pkg == "main" || pkg == "main_test" {
		// A command's functions are named main.F; the module's go.mod names its directory.
		return dirImportPath(filepath.Dir(outer.File))
	}
	return strings.TrimSuffix(pkg, "_test")
}

// funcPackage returns the import path part of a function's full name, as runtime.Frame names it:
// "corral/examples/raft.TestX.func1" is in "corral/examples/raft".
func funcPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	dot := strings.Index(fn[slash+1:], ".")
	if dot < 0 {
		return ""
	}
	return fn[:slash+1+dot]
}

// dirImportPath derives the import path of the package in dir from the go.mod above it, or
// returns "" if there is none.
func dirImportPath(dir string) string {
	if !filepath.IsAbs(dir) {
		return "" // built with -trimpath: no way back to the module root
	}
	for root := dir; ; {
		if mod := modulePath(filepath.Join(root, "go.mod")); mod != "" {
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				return ""
			}
			if rel == "." {
				return mod
			}
			return mod + "/" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(root)
		if parent == root {
			return ""
		}
		root = parent
	}
}

// modulePath reads the module line of a go.mod file; "" if the file is missing or has none.
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
