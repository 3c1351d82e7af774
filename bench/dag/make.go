package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// makeResult is what one run through make measured.
type makeResult struct {
	wall time.Duration
	cpu  time.Duration // make and its recipes
}

// runMake writes the DAG as a Makefile in a temporary directory and runs `make -s -j p all`
// there. The wall time counts make's whole run, reading the Makefile included.
func runMake(sh shape, p int, command, root string, cl *cleanup) (makeResult, error) {
	var res makeResult
	dir, err := tempDir(root, "corral-bench-make-", cl)
	if err != nil {
		return res, err
	}
	mf := filepath.Join(dir, "Makefile")
	f, err := os.Create(mf)
	if err != nil {
		return res, err
	}
	if err := sh.writeMakefile(f, command); err != nil {
		f.Close()
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	cmd := exec.Command("make", "-s", "-r", "-j", strconv.Itoa(p), "-f", mf, "all")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	_, before := cpuTimes()
	start := time.Now()
	out, err := cmd.Output()
	res.wall = time.Since(start)
	_, after := cpuTimes()
	res.cpu = after - before
	if err != nil {
		return res, fmt.Errorf("make: %v\n%s", err, out)
	}
	return res, nil
}
