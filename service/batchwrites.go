package service

import (
	"errors"

	"corral/store"
)

// batchWrite is one record a job manager's pending batch writes: value put (encoded as JSON), or
// the record deleted (one already gone is no error). Both at any version: the job manager is the
// only writer of its tasks and their attempt records.
type batchWrite struct {
	table, key string
	value      any
	delete     bool
}

// batchWrites are the writes of a pending batch, at most one per record: a later write of a
// record replaces an earlier one in the same batch (a task started and ended before the batch is
// written is written once, and an attempt record put and deleted is only deleted). Since no
// write reads and every one is at any version, the store ends as if each had been applied in
// turn.
type batchWrites struct {
	ops []batchWrite
	at  map[string]int // table and key -> index in ops of the record's latest write
}

// add puts w in the batch, in place of an earlier write of the same record.
func (b *batchWrites) add(w batchWrite) {
	k := w.table + "\x00" + w.key
	if b.at == nil {
		b.at = map[string]int{}
	}
	if i, ok := b.at[k]; ok {
		b.ops[i] = batchWrite{} // superseded
	}
	b.at[k] = len(b.ops)
	b.ops = append(b.ops, w)
}

// apply makes the writes in tx, in the order they were added.
func (b *batchWrites) apply(tx store.Tx) error {
	for _, w := range b.ops {
		switch {
		case w.table == "":
			// superseded
		case w.delete:
			if err := tx.Delete(w.table, w.key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		default:
			if err := putJSON(tx, w.table, w.key, w.value, store.AnyVersion); err != nil {
				return err
			}
		}
	}
	return nil
}
