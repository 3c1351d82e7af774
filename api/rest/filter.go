package rest

// scanPage reads one page of a list that a filter narrows: it reads the entities in id order
// from after, chunk by chunk (fetch returns at most n entities with ids above after, in order),
// keeps those keep accepts, and stops at limit kept entities or the end of the list. next is
// the id the following page starts after ("" at the end). A page may hold fewer than limit
// entities (even none) and still have a next page: the scan also stops after maxScan entities,
// so that a filter that matches little does not read a whole large list in one request, as
// Azure may answer a filtered page short.
func scanPage[T any](fetch func(after string, n int) ([]T, error), id func(T) string, keep func(T) bool,
	after string, limit, maxScan int) (items []T, next string, err error) {
	chunk := max(limit+1, 100)
	scanned := 0
	for {
		batch, err := fetch(after, chunk)
		if err != nil {
			return nil, "", err
		}
		for i, it := range batch {
			scanned++
			if keep(it) {
				items = append(items, it)
			}
			more := i < len(batch)-1 || len(batch) == chunk
			if !more {
				return items, "", nil
			}
			if len(items) == limit || scanned >= maxScan {
				return items, id(it), nil
			}
		}
		if len(batch) < chunk {
			return items, "", nil
		}
		after = id(batch[len(batch)-1])
	}
}

// maxScan bounds how many entities a filtered page reads (see scanPage).
const maxScan = 10000

// page reads one page of a list in id order, the request's $filter applied: limit entities
// after after (fewer when the filter keeps fewer, see scanPage), each filled with fill, and
// the id the next page starts after ("" at the end).
func page[T any](c *call, fetch func(after string, n int) ([]T, error), id func(T) string, fill func(*T), after string, limit int) ([]T, string, error) {
	keep, bound := func(T) bool { return true }, int(^uint(0)>>1)
	if c.q.filter != nil {
		keep = func(v T) bool {
			fill(&v)
			return c.matches(v)
		}
		bound = maxScan
	}
	items, next, err := scanPage(fetch, id, keep, after, limit, bound)
	if err != nil {
		return nil, "", err
	}
	for i := range items {
		fill(&items[i])
	}
	return items, next, nil
}
