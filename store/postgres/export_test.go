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
