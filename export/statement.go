package export

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/memberkit/membership/ledger"
)

// StatementReader reads an account's statement a page at a time;
// *membership.Program satisfies it.
type StatementReader interface {
	Statement(ctx context.Context, q ledger.Query) (ledger.Page, error)
	// Location is the program's zone, the statement's times are written in.
	Location() *time.Location
}

// StatementHeader is the header row of Statement's CSV.
var StatementHeader = []string{"time", "account", "txn", "seq", "kind", "amount", "balance",
	"lot", "event", "order", "operator", "note"}

// Statement writes the statement of the account q.Account to w as CSV,
// oldest entry first, one row per entry (StatementHeader): its time, the
// account, the transaction and entry numbers, the kind, the amount (negative
// for a debit), the member account's running balance after the entry, the
// lot, and the reference (event, order, operator, note). A period's
// statement is the entries of [q.From, q.To); q.Kinds keeps some kinds. A
// pool's entries have no running balance (the ledger keeps a pool's
// balance, not its history): the cell is empty.
//
// It returns the rows written and next, the cursor (ledger.Query.Cursor)
// after the last of them: an export that stopped (w failed, ctx was
// cancelled) goes on with q.Cursor set to next, after the lines w took
// whole, and each row is written once. With q.Cursor set, Statement goes
// on with a file: it writes no header row. next is q.Cursor when no row
// was written, so an empty next means the file has no row yet: write it
// again from its start.
//
// The errors are one wrapping ErrInvalidArgument for a nil reader or
// writer or a query with Newest set (a running balance reads oldest
// first), and the errors of the reader, of w and of ctx.
func Statement(ctx context.Context, w io.Writer, src StatementReader, q ledger.Query, progress Progress) (rows int64, next string, err error) {
	if err := nilArg(w == nil, src == nil, false); err != nil {
		return 0, q.Cursor, fmt.Errorf("export: statement: %w", err)
	}
	if q.Newest {
		return 0, q.Cursor, fmt.Errorf("export: statement: %w: newest first", ErrInvalidArgument)
	}
	from := q.Cursor
	q.Limit = pageSize
	loc := src.Location()
	rw := newRowWriter(w, progress)
	if from == "" {
		err = rw.header(StatementHeader)
	}
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var page ledger.Page
		if page, err = src.Statement(ctx, q); err != nil {
			err = fmt.Errorf("statement of %s: %w", q.Account, err)
			break
		}
		for _, e := range page.Entries {
			if err = rw.row(entryRow(e, loc), position{seq: e.Seq, at: e.Time}); err != nil {
				break
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	err = rw.flush(err)
	next = from
	if rw.rows() > 0 {
		last := rw.s.pos
		next = ledger.Entry{Account: q.Account, Time: last.at, Seq: last.seq}.Cursor()
	}
	if err != nil {
		return rw.rows(), next, fmt.Errorf("export: %w", err)
	}
	return rw.rows(), next, nil
}

// entryRow is an entry's row.
func entryRow(e ledger.Entry, loc *time.Location) []string {
	bal := ""
	if e.Account.IsMember() {
		bal = amount(e.Balance)
	}
	return []string{instant(e.Time.In(loc)), text(e.Account.String()),
		strconv.FormatUint(e.Txn, 10), strconv.FormatUint(e.Seq, 10), text(string(e.Kind)),
		amount(e.Amount), bal, text(e.Lot),
		text(e.Ref.Event), text(e.Ref.Order), text(e.Ref.Operator), text(e.Ref.Note)}
}
