//go:build race

package points_test

// raceSlack is what the race detector adds to TestEarnAllocs's count: its
// sync.Pool drops some of what is put back, so the engine allocates unit
// state that a normal build reuses.
const raceSlack = 4
