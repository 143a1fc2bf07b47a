package bolt

import "testing"

// TestDefaultCheckpointSize checks CheckpointSize's default: a sixteenth
// of MaxMemory, a sixty-fourth once the file reaches 256 MiB.
func TestDefaultCheckpointSize(t *testing.T) {
	for _, c := range []struct{ maxMemory, fileSize, want int64 }{
		{1 << 30, 0, 64 << 20},
		{1 << 30, 256<<20 - 1, 64 << 20},
		{1 << 30, 256 << 20, 16 << 20},
		{1 << 30, 1 << 30, 16 << 20},
		{1 << 30, 4 << 30, 16 << 20},
		{32, 0, 2},
		{32, 1 << 30, 1},
	} {
		if got := defaultCheckpointSize(c.maxMemory, c.fileSize); got != c.want {
			t.Errorf("defaultCheckpointSize(%d, %d) = %d; want %d", c.maxMemory, c.fileSize, got, c.want)
		}
	}
}
