package bolt

import "github.com/memberkit/membership/store"

// SetCommitHook makes d's committer call hook with "begin" before it logs a
// batch, with "committed" after the log was synced, before the batch is
// answered, and with "answered" after, before the batch's trees are in the
// overlay. Call it before any Update.
func SetCommitHook(d *DB, hook func(stage string)) { d.commitHook = hook }

// SetCheckpointHook makes d's checkpoints call hook with "committed" after
// their bbolt commit, before they remove the log segments they cover. Call
// it before any Update.
func SetCheckpointHook(d *DB, hook func(stage string)) { d.ckptHook = hook }

// SetLogFault makes the log call fault after writing the record of batch
// seq and before syncing it; an error fails the append as a failed sync
// would. Call it before any Update.
func SetLogFault(d *DB, fault func(seq uint64) error) { d.log.fault = fault }

// Layered reports whether t, given to an Update function, reads the buffer
// of a batch being committed under its own.
func Layered(t store.Tx) bool { return t.(*tx).under != nil }
