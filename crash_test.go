package membership_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store/bolt"
)

const crashChildEnv = "MEMBERSHIP_CRASH_CHILD_DB"

// TestCrashRecovery runs a child process that processes events on a bolt
// file from 8 goroutines and prints each acknowledged event; the parent
// kills it with SIGKILL mid-stream, reopens the file and checks that every
// acknowledged event is there and the ledger verifies.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 400 {
		if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked[id] = true
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 400 {
		t.Fatalf("child acknowledged only %d events", len(acked))
	}

	t.Logf("the crash left %d held records", heldRecords(t, path))
	st, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer st.Close()
	p, err := membership.Open(st, valueDef())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id := range acked {
		g, i := 0, 0
		fmt.Sscanf(id, "r%d-%d", &g, &i)
		out, err := p.Process(ctx, recharge(id, fmt.Sprint("m", g), "1", t0.Add(time.Duration(i)*time.Second)))
		if err != nil {
			t.Fatalf("reprocess %s: %v", id, err)
		}
		if !out.Duplicate {
			t.Errorf("acknowledged event %s was lost", id)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify after crash: %v", err)
	}
}

func crashChild(path string) {
	// Small checkpoints, so that the kill finds checkpoints done, writes
	// held back by them (see store/bolt's Held writes) and the log.
	st, err := bolt.Open(path, &bolt.Options{CheckpointSize: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	p, err := membership.Open(st, valueDef())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testkit.AckForever(p, 8, func(g, i int) event.Event {
		return recharge(fmt.Sprintf("r%d-%d", g, i), fmt.Sprint("m", g), "1", t0.Add(time.Duration(i)*time.Second))
	})
}

// heldRecords counts the records of writes held back in the bbolt file at
// path (keys "held\x00" and a seq in the reserved bucket, see store/bolt).
func heldRecords(t *testing.T, path string) int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte("\x00store/bolt")); b != nil {
			c := b.Cursor()
			for k, _ := c.Seek([]byte("held\x00")); k != nil && strings.HasPrefix(string(k), "held\x00"); k, _ = c.Next() {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
