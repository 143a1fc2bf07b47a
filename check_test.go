package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// orderOf10 is member's n-th order of 10.00: benchDef's points rule (rate
// 1 on the amount) earns 10 points of program "mall" for it.
func orderOf10(member string, n int) event.Event {
	return event.Event{ID: fmt.Sprintf("%s-%d", member, n), Member: member, Type: "order",
		Time: t0.Add(time.Duration(n) * time.Second), Attrs: event.Attrs{"amount": event.Dec(decimal.New(1000, -2)), "store": event.Str("s1")}}
}

// TestBackupRestore takes a backup of a bolt store while eight members'
// orders keep being processed, one goroutine a member, then opens the
// copy as a store and a Program: Check passes, and each member's points
// are 10 an order for a run of their first orders that holds at least
// every order answered before the backup was called, and no order that
// was not yet processed.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "live.db"), &bolt.Options{NoSync: true, CheckpointSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, benchDef())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const members = 8
	var (
		acked [members]atomic.Int64 // orders answered, per member
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for i := range members {
		wg.Go(func() {
			for n := 1; !stop.Load(); n++ {
				if _, err := p.Process(ctx, orderOf10(fmt.Sprint("m", i), n)); err != nil {
					t.Errorf("Process: %v", err)
					return
				}
				acked[i].Store(int64(n))
			}
		})
	}
	for acked[0].Load() < 50 {
		runtime.Gosched()
	}
	var before [members]int64
	for i := range members {
		before[i] = acked[i].Load()
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := st.BackupFile(ctx, backup); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	for acked[0].Load() < before[0]+20 {
		runtime.Gosched() // the orders go on after the backup
	}
	stop.Store(true)
	wg.Wait()
	if err := p.Check(ctx); err != nil {
		t.Errorf("Check of the live store = %v", err)
	}

	rst, err := bolt.Open(backup, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open the backup: %v", err)
	}
	defer rst.Close()
	rp, err := membership.Open(rst, benchDef())
	if err != nil {
		t.Fatalf("membership.Open on the backup: %v", err)
	}
	if err := rp.Check(ctx); err != nil {
		t.Errorf("Check of the backup = %v", err)
	}
	ten := decimal.NewFromInt(10)
	for i := range members {
		m := fmt.Sprint("m", i)
		bal, err := rp.Balance(ctx, ledger.MemberAccount(m, ledger.Points("mall"), ""))
		if err != nil {
			t.Fatalf("Balance of %s: %v", m, err)
		}
		orders := bal.Div(ten)
		if !orders.IsInteger() || orders.IntPart() < before[i] || orders.IntPart() > acked[i].Load() {
			t.Errorf("%s holds %s points in the backup; want 10 × n, n from %d (answered before the backup) to %d (processed)",
				m, bal, before[i], acked[i].Load())
		}
		// The orders after n are not in the backup: processing the next
		// one is new, not a duplicate.
		out, err := rp.Process(ctx, orderOf10(m, int(orders.IntPart())+1))
		if err != nil || out.Duplicate {
			t.Errorf("%s: the order after the backup's last = %+v, %v; want processed anew", m, out, err)
		}
	}
}

// TestProgramCheck checks Program.Check: on the memory store, which has no
// store check, it is Verify; on bolt it finds a damaged record, with an
// error wrapping store.ErrCorrupt, where Verify of the ledger alone need
// not.
func TestProgramCheck(t *testing.T) {
	ctx := t.Context()
	mem := openMemory(t, benchDef())
	if _, err := mem.Process(ctx, orderOf10("ann", 1)); err != nil {
		t.Fatal(err)
	}
	if err := mem.Check(ctx); err != nil {
		t.Errorf("Check on memory = %v", err)
	}

	path := filepath.Join(t.TempDir(), "store.db")
	st, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, benchDef())
	if err != nil {
		t.Fatal(err)
	}
	// An event ID that appears once in the file, in the event's record.
	ev := orderOf10("bob", 1)
	ev.ID = "needle-0123456789"
	if _, err := p.Process(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(ctx); err != nil {
		t.Errorf("Check of an intact store = %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i+len(ev.ID) <= len(data); i++ {
		if string(data[i:i+len(ev.ID)]) == ev.ID {
			data[i+len(ev.ID)-1] ^= 0x01 // every copy, live or in a freed page
			n++
		}
	}
	if n == 0 {
		t.Fatal("the event ID is not in the file")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	p, err = membership.Open(st, benchDef())
	if err != nil {
		t.Fatalf("membership.Open: %v", err)
	}
	if err := p.Check(ctx); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Check of a damaged store = %v; want an error wrapping store.ErrCorrupt", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Check(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check with a cancelled context = %v; want context.Canceled", err)
	}
}
