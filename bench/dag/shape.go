package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"corral/batch"
)

// shape is a layered DAG: Layers layers of Width tasks (the last one partial when Total is not a
// multiple of Width), each task of a layer after the first depending on Deps tasks of the layer
// before: task i of layer l depends on tasks i, i+1, ..., i+Deps-1 (mod Width) of layer l-1.
type shape struct {
	Layers, Width, Deps int
	// Total is the number of tasks: Layers*Width, or less when the last layer is partial.
	Total int
}

func newShape(layers, width, deps int) shape {
	return shape{Layers: layers, Width: width, Deps: min(deps, width), Total: layers * width}
}

// shapeOfTotal is the shape of total tasks in layers of width (the last one maybe partial).
func shapeOfTotal(total, width, deps int) shape {
	width = min(width, total)
	return shape{Layers: (total + width - 1) / width, Width: width, Deps: min(deps, width), Total: total}
}

func (s shape) String() string {
	return fmt.Sprintf("%d layers x %d tasks = %d tasks, %d deps per task", s.Layers, s.Width, s.Total, s.Deps)
}

// taskID names task i of layer l.
func taskID(l, i int) string { return fmt.Sprintf("t%d-%d", l, i) }

// deps returns the ids of the dependencies of task i of layer l (none in layer 0). Every layer
// but the last is full, so every dependency exists.
func (s shape) deps(l, i int) []string {
	if l == 0 {
		return nil
	}
	out := make([]string, s.Deps)
	for k := range out {
		out[k] = taskID(l-1, (i+k)%s.Width)
	}
	return out
}

// each calls f for every task in order (layer by layer), with its index in that order.
func (s shape) each(f func(n, l, i int)) {
	for n := 0; n < s.Total; n++ {
		f(n, n/s.Width, n%s.Width)
	}
}

// tasks returns tasks [from, to) in order, as Corral tasks running command.
func (s shape) tasks(from, to int, command string) []batch.Task {
	out := make([]batch.Task, 0, to-from)
	for n := from; n < to; n++ {
		l, i := n/s.Width, n%s.Width
		t := batch.Task{ID: taskID(l, i), CommandLine: command}
		if d := s.deps(l, i); d != nil {
			t.DependsOn = &batch.TaskDependencies{TaskIDs: d}
		}
		out = append(out, t)
	}
	return out
}

// writeMakefile writes a Makefile with one phony target per task, whose prerequisites are its
// dependencies and whose recipe is command, and a first target "all" that needs every task.
// Make runs a recipe without special characters directly (no shell), as Corral's agent does.
func (s shape) writeMakefile(w io.Writer, command string) error {
	b := bufio.NewWriter(w)
	var all []string
	s.each(func(_, l, i int) { all = append(all, taskID(l, i)) })
	fmt.Fprintf(b, ".PHONY: all %s\n\nall: %s\n\n", strings.Join(all, " "), strings.Join(all, " "))
	s.each(func(_, l, i int) {
		fmt.Fprintf(b, "%s:", taskID(l, i))
		for _, d := range s.deps(l, i) {
			fmt.Fprintf(b, " %s", d)
		}
		fmt.Fprintf(b, "\n\t%s\n", command)
	})
	return b.Flush()
}
