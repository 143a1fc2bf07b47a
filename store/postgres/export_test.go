package postgres

// Queued returns how many Updates wait in s's queue for a group.
func Queued(s *Store) int {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	return len(s.queue)
}
