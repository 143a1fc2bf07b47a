package postgres

// Queued returns how many Updates wait in s's queue for a group.
func Queued(s *Store) int {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	return len(s.queue)
}

// FailTx fails t, a transaction of a Store, with err as if the server had
// answered a read with it.
func FailTx(t any, err error) error {
	return t.(*tx).fail(err)
}

// ChangeInsert replaces the statement s's commits insert new keys with
// sql, under the same prepared name: a store whose statement no longer
// takes the parameters the commit queues.
func ChangeInsert(s *Store, sql string) {
	s.sql.names[sql] = s.sql.names[s.sql.insert]
	s.sql.insert = sql
}
