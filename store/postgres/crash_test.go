package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/value"
)

// crashEnv passes a child process its schema and name.
const crashEnv = "MEMBERSHIP_PG_CRASH_CHILD"

func crashDef() membership.Definition {
	return membership.Definition{
		Zone:        "Asia/Shanghai",
		Events:      []mevent.Type{{Name: "recharge", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
	}
}

func crashEvent(id string) mevent.Event {
	var child, g, i int
	fmt.Sscanf(id, "c%d-g%d-%d", &child, &g, &i)
	return mevent.Event{ID: id, Member: fmt.Sprintf("c%d-m%d", child, g), Type: "recharge",
		Time:  time.Date(2026, 11, 24, 10, 0, i, 0, time.UTC),
		Attrs: mevent.Attrs{"amount": mevent.DecString("1")}}
}

// Four application instances, each a process of its own with a Program on
// one database, process events from 4 goroutines each and print every
// acknowledged one; each is killed with SIGKILL mid-stream. Every
// acknowledged event is then found processed (a retry is a duplicate),
// the feed holds each processed event's change once, each member's in
// order, and the ledger verifies.
func TestInstancesKilledMidStream(t *testing.T) {
	if v := os.Getenv(crashEnv); v != "" {
		schema, child, _ := strings.Cut(v, "/")
		crashChild(t, schema, child)
		return
	}
	pool := testPool(t)
	schema := newSchema(t, pool)
	const want = 150 // acknowledged events per child before it is killed
	acks := make(chan string)
	var cmds []*exec.Cmd
	var readers sync.WaitGroup
	for child := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstancesKilledMidStream$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s/%d", crashEnv, schema, child))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		readers.Add(1)
		go func(out io.Reader) {
			defer readers.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					acks <- id
				}
			}
		}(out)
	}
	go func() { readers.Wait(); close(acks) }()
	// Each child is killed as soon as it has acknowledged want events; the
	// acknowledgements that were on their way still count. A child that
	// stops acknowledging fails the test at the deadline.
	acked := map[string]bool{}
	per := make([]int, len(cmds))
	killed := 0
	deadline := time.After(2 * time.Minute)
collect:
	for {
		select {
		case id, ok := <-acks:
			if !ok {
				break collect
			}
			acked[id] = true
			var child int
			fmt.Sscanf(id, "c%d-", &child)
			per[child]++
			if per[child] == want {
				if err := cmds[child].Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		case <-deadline:
			for _, cmd := range cmds {
				cmd.Process.Kill()
			}
			t.Fatalf("after 2 minutes the children acknowledged %v events", per)
		}
	}
	for _, cmd := range cmds {
		_ = cmd.Wait()
	}
	if killed != len(cmds) {
		t.Fatalf("the children acknowledged %v events, want %d each", per, want)
	}
	ctx := context.Background()
	st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := membership.Open(st, crashDef())
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		out, err := p.Process(ctx, crashEvent(id))
		if err != nil {
			t.Fatalf("reprocess %s: %v", id, err)
		}
		if !out.Duplicate {
			t.Errorf("acknowledged event %s was lost", id)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify after the crashes: %v", err)
	}
	seen := map[string]bool{}
	balance := map[string]int64{}
	for after := uint64(0); ; {
		page, err := p.Feed(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if seen[c.Event] {
				t.Fatalf("event %s twice in the feed", c.Event)
			}
			seen[c.Event] = true
			var vc value.Change
			if err := json.Unmarshal(c.Data, &vc); err != nil {
				t.Fatal(err)
			}
			balance[c.Member]++
			if vc.Balance.IntPart() != balance[c.Member] {
				t.Fatalf("%s: balance %s at its change %d", c.Member, vc.Balance, balance[c.Member])
			}
		}
		after = page[len(page)-1].Seq
	}
	for id := range acked {
		if !seen[id] {
			t.Errorf("acknowledged event %s is not in the feed", id)
		}
	}
}

// crashChild processes events until it is killed.
func crashChild(t *testing.T, schema, child string) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn(t), &postgres.Options{Schema: schema, MaxAttempts: 10_000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	p, err := membership.Open(st, crashDef())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testkit.AckForever(p, 4, func(g, i int) mevent.Event {
		return crashEvent(fmt.Sprintf("c%s-g%d-%d", child, g, i))
	})
}
