package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// diskProbe is the mean cost of the file-system operations a node agent makes per task (a
// directory, files), and of one durable write, on the file system the runs use: figures that
// explain much of the gap between the node's Runner and make, which touches no file.
type diskProbe struct {
	mkdir, create, syncPair time.Duration
	n                       int
}

func (d diskProbe) String() string {
	return fmt.Sprintf("mkdir %s, create a file %s, append+fsync file+fsync dir %s (mean of %d)", ms(d.mkdir), ms(d.create), ms(d.syncPair), d.n)
}

// probeDisk times n rounds of: make a directory, create a file in it, append to another file and
// fsync it and the directory (what one durable record costs). Its files are deleted by cl, at the
// end: on ext4, creating files soon after many were deleted nearby is several times slower
// (the allocator skips recently deleted inodes), so nothing is deleted between the runs.
func probeDisk(root string, n int, cl *cleanup) (diskProbe, error) {
	p := diskProbe{n: n}
	dir, err := tempDir(root, "corral-bench-probe-", cl)
	if err != nil {
		return p, err
	}
	for i := range n {
		d := filepath.Join(dir, fmt.Sprint(i))
		t := time.Now()
		if err := os.Mkdir(d, 0o755); err != nil {
			return p, err
		}
		p.mkdir += time.Since(t)
		t = time.Now()
		f, err := os.OpenFile(filepath.Join(d, "stdout.txt"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return p, err
		}
		f.Close()
		p.create += time.Since(t)
		t = time.Now()
		g, err := os.OpenFile(filepath.Join(d, "attempts"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return p, err
		}
		_, err = g.WriteString("attempt\n")
		if err == nil {
			err = g.Sync()
		}
		g.Close()
		if err != nil {
			return p, err
		}
		h, err := os.Open(d)
		if err != nil {
			return p, err
		}
		err = h.Sync()
		h.Close()
		if err != nil {
			return p, err
		}
		p.syncPair += time.Since(t)
	}
	p.mkdir /= time.Duration(n)
	p.create /= time.Duration(n)
	p.syncPair /= time.Duration(n)
	return p, nil
}
