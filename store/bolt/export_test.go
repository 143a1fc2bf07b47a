package bolt

import "github.com/memberkit/membership/store"

// SetCommitHook makes d's committer call hook with "begin" before it begins
// a batch's bbolt transaction and with "committed" after the commit
// returned, before the batch is answered. Call it before any Update.
func SetCommitHook(d *DB, hook func(stage string)) { d.commitHook = hook }

// Layered reports whether t, given to an Update function, reads the buffer
// of a batch being committed under its own.
func Layered(t store.Tx) bool { return t.(*tx).under != nil }
