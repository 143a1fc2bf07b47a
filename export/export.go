// Package export streams a program's data out for other systems: the
// members with their state as CSV ([Members]), an account's ledger
// statement as CSV for finance ([Statement]), and the change feed as JSON
// lines from a cursor ([Feed]).
//
// [Openings] writes the members' state as the file package migrate
// imports (migrate.CSV's columns): an export of a program imported into an
// empty program with the same definition gives every member the same
// level and term end, growth, points lots with their expiries and
// releases, stored value, coupons held, manual tags and profile. Members
// is a report for people; Openings is the one format a program reads
// back.
//
// Each function reads through a small interface that *membership.Program
// satisfies, a page at a time, and writes each row as it reads it, so
// memory stays flat whatever the number of rows; each reports the rows
// written to an optional [Progress] callback and returns their count.
// Nothing is written to the program. A nil writer, reader or ID sequence
// is refused with an error wrapping [ErrInvalidArgument] that names the
// argument (w, src, ids), before anything is read or written. A function
// stops at the first error (of the reader, of the writer, or ctx's),
// after the rows written so far: an export is resumed from the last row
// written (Feed from its position, Statement from the page cursor in
// Query.Cursor, Members by giving the IDs not yet written).
//
// # CSV
//
// The CSV files have a header row and are written with encoding/csv
// (RFC 4180 quoting). Amounts are decimals as written by
// decimal.Decimal.String ("-12.5", never an exponent); times are RFC 3339
// in the program's zone, empty for none. A text cell that a spreadsheet
// would read as a formula (beginning with =, +, -, @, a tab or a carriage
// return) is written after a single quote, the OWASP advice against CSV
// injection: an operator's note or a tag name is never run as a formula
// where the file is opened. Amount cells are numbers and are not changed.
package export

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// Progress is called after each row written with the count of rows
// written so far (header rows are not counted). It runs in the exporting
// goroutine; a slow callback slows the export.
type Progress func(rows int64)

// ErrInvalidArgument is returned for an argument an export cannot use (a
// nil reader or writer, a query it cannot honour). It is
// event.ErrInvalidArgument, the sentinel every package of the module
// shares.
var ErrInvalidArgument = event.ErrInvalidArgument

// nilArg returns an error wrapping ErrInvalidArgument that names the
// first nil argument of an export (w, src, ids), or nil when none is.
func nilArg(w, src, ids bool) error {
	switch {
	case w:
		return fmt.Errorf("%w: w: nil writer", ErrInvalidArgument)
	case src:
		return fmt.Errorf("%w: src: nil reader", ErrInvalidArgument)
	case ids:
		return fmt.Errorf("%w: ids: nil sequence", ErrInvalidArgument)
	}
	return nil
}

// pageSize is how many changes or entries are read at a time.
const pageSize = 1000

// text protects a text cell from being read as a formula (see the
// package documentation).
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// amount writes an amount cell.
func amount(d decimal.Decimal) string { return d.String() }

// instant writes a time cell: RFC 3339, empty for the zero time.
func instant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// rowWriter writes CSV rows, counting them for Progress.
type rowWriter struct {
	w        *csv.Writer
	rows     int64
	progress Progress
}

func (r *rowWriter) header(cols []string) error {
	if err := r.w.Write(cols); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (r *rowWriter) row(cells []string) error {
	if err := r.w.Write(cells); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r.rows++
	if r.progress != nil {
		r.progress(r.rows)
	}
	return nil
}

// flush ends the file: it flushes the buffer and returns its error, or
// err when there was one already.
func (r *rowWriter) flush(err error) error {
	r.w.Flush()
	if ferr := r.w.Error(); ferr != nil {
		return errors.Join(err, fmt.Errorf("write: %w", ferr))
	}
	return err
}
