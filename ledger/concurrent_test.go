package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Postings from eight goroutines at once (two for each of four members,
// each earning 1.01 and then spending 0.01, 25 times, on four stripes),
// with readers paging a statement, reading balances and running Verify
// meanwhile: each member ends with 2 × 25 × 1.00 = 50.00, the earned pool
// with −8 × 25 × 1.01 = −202.00, the redeemed pool with 8 × 25 × 0.01 =
// 2.00, and so do the day's totals; every statement page goes on from
// the last without repeating an entry, and Verify passes throughout. Run
// with -race.
func TestConcurrentPostings(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	post := func(tr ledger.Transaction) error {
		return st.Update(ctx, func(tx store.Tx) error {
			l := ledger.New(tx, shanghai)
			l.SetStripes(4)
			_, err := l.Post(tr)
			return err
		})
	}
	var writers, readers sync.WaitGroup
	// The pager, at the statement's end, waits for a posting (or the end).
	wrote := make(chan struct{}, 1)
	errs := make(chan error, 64)
	for g := range 8 {
		member := fmt.Sprint("m", g%4)
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 25 {
				// Each goroutine's times are its own minutes of the day.
				at := t0.Add(time.Duration(g*100+2*i) * time.Minute)
				if err := post(earnOf(member, "1.01", at)); err != nil {
					errs <- err
					return
				}
				if err := post(spendOf(member, "0.01", at.Add(time.Minute))); err != nil {
					errs <- err
					return
				}
				select {
				case wrote <- struct{}{}:
				default:
				}
			}
		}()
	}
	done := make(chan struct{})
	readers.Add(1)
	go func() {
		defer readers.Done()
		for range 20 {
			err := st.View(ctx, func(tx store.Tx) error {
				l := ledger.New(tx, shanghai)
				if _, err := l.Balance(ledger.MemberAccount("m0", pts, "")); err != nil {
					return err
				}
				return ledger.Verify(tx)
			})
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	readers.Add(1)
	go func() {
		defer readers.Done()
		// m1 is written by goroutines 1 and 5, 5's entries dated after
		// 1's: one of 1's posted once the pager read past it is not
		// listed (a cursor goes on after its entry), but no entry is
		// listed twice or out of order.
		var last ledger.Entry
		cursor := ""
		for {
			var page ledger.Page
			err := st.View(ctx, func(tx store.Tx) error {
				var err error
				page, err = ledger.New(tx, shanghai).Statement(ledger.Query{Account: ledger.MemberAccount("m1", pts, ""), Limit: 3, Cursor: cursor})
				return err
			})
			if err != nil {
				errs <- err
				return
			}
			for _, e := range page.Entries {
				if !last.Time.IsZero() && (e.Time.Before(last.Time) || (e.Time.Equal(last.Time) && e.Seq <= last.Seq)) {
					errs <- fmt.Errorf("entry %d at %s after entry %d at %s", e.Seq, e.Time, last.Seq, last.Time)
				}
				last = e
			}
			if page.Next != "" {
				cursor = page.Next
				continue
			}
			if !last.Time.IsZero() {
				// At the end, a reader waits and goes on after the last
				// entry it read (Entry.Cursor), as Next would.
				cursor = last.Cursor()
			}
			select {
			case <-done:
				return
			case <-wrote:
			}
		}
	}()
	writers.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range 4 {
		if got := balance(t, st, ledger.MemberAccount(fmt.Sprint("m", i), pts, "")); !d(got).Equal(d("50.00")) {
			t.Errorf("m%d = %s, want 50.00", i, got)
		}
	}
	if got := balance(t, st, issued); !d(got).Equal(d("-202.00")) {
		t.Errorf("earned pool = %s, want -202.00", got)
	}
	if got := balance(t, st, redeemed); !d(got).Equal(d("2.00")) {
		t.Errorf("redeemed pool = %s, want 2.00", got)
	}
	var totals map[ledger.Kind]decimal.Decimal
	view(t, st, func(l *ledger.Ledger) error { var err error; totals, err = l.Totals(pts, "", ""); return err })
	if len(totals) != 2 || !totals["earned"].Equal(d("202.00")) || !totals["redeemed"].Equal(d("-2.00")) {
		t.Errorf("totals = %v, want earned 202.00, redeemed -2.00", totals)
	}
	checkVerify(t, st)
}
