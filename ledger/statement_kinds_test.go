package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
)

// Paging a statement of twelve entries, three at each of four instants,
// the odd amounts earned and the even ones a bonus, lists each entry
// once, in order (1 to 12, or 12 to 1 newest first), with or without a
// kind filter, whatever the page size, and in the fewest pages: a page
// has a Next only when an entry of the kinds asked follows. With a kind
// filter, a full page followed only by entries of other kinds had a Next
// whose page was empty (earned, 6 a page: [1 3 5 7 9 11], then an empty
// page, where one page is all).
func TestStatementPagesWithKinds(t *testing.T) {
	st := memory.New()
	var txs []ledger.Transaction
	for i := range 12 {
		tr := earn(fmt.Sprint(i+1), t0.Add(time.Duration(i/3)*time.Minute), time.Time{})
		if i%2 == 1 {
			tr.Kind = "bonus"
		}
		txs = append(txs, tr)
	}
	mustPost(t, st, txs...)
	all := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	odd := []string{"1", "3", "5", "7", "9", "11"}
	even := []string{"2", "4", "6", "8", "10", "12"}
	reverse := func(s []string) []string {
		out := make([]string, len(s))
		for i, x := range s {
			out[len(s)-1-i] = x
		}
		return out
	}
	for _, newest := range []bool{false, true} {
		for _, c := range []struct {
			kinds []ledger.Kind
			want  []string
		}{{nil, all}, {[]ledger.Kind{"earned"}, odd}, {[]ledger.Kind{"bonus"}, even}, {[]ledger.Kind{"bonus", "earned"}, all}} {
			want := c.want
			if newest {
				want = reverse(want)
			}
			for limit := 1; limit <= 13; limit++ {
				var got []string
				pages, cursor := 0, ""
				for {
					var page ledger.Page
					view(t, st, func(l *ledger.Ledger) error {
						var err error
						page, err = l.Statement(ledger.Query{Account: alice, Limit: limit, Cursor: cursor, Newest: newest, Kinds: c.kinds})
						return err
					})
					pages++
					for _, e := range page.Entries {
						got = append(got, e.Amount.String())
					}
					if page.Next == "" || pages > len(want) {
						break
					}
					if last := page.Entries[len(page.Entries)-1]; page.Next != last.Cursor() {
						t.Errorf("newest %v, kinds %v, limit %d: Next is not the page's last entry's cursor", newest, c.kinds, limit)
					}
					cursor = page.Next
				}
				name := fmt.Sprintf("newest %v, kinds %v, limit %d", newest, c.kinds, limit)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
				if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
					t.Errorf("%s: %d pages, want %d", name, pages, wantPages)
				}
			}
		}
	}
}
