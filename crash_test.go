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
	st, err := bolt.Open(path, nil)
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
