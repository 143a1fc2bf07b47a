// Package export streams a program's data out for other systems: the
// members with their state as CSV ([Members]), an account's ledger
// statement as CSV for finance ([Statement]), and the change feed as JSON
// lines from a cursor ([Feed]).
//
// [Openings] writes the members' state as the file package migrate
// imports (migrate.CSV's columns): an export of a program imported into an
// empty program with the same definition gives every member the same
// level and term end, growth (with the days it was earned on that a later
// retention window reads, so its term ends keep or downgrade it alike),
// the levels whose upgrade gifts it had and the rewards of those owed (the
// next reach of a level grants its gifts, none, or the rewards owed
// alike), the paid plans held with their expiries (the same benefits and
// member price before and after each expiry), points lots with their
// expiries and releases, stored value with its cumulative recharge, spend,
// refund and withdrawal (the same tag recharge total where it counts
// withdrawals off), coupons held, achievements granted (with their time
// and source), manual tags and profile. Members is a report for people;
// Openings is the one format a program reads back.
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
// written (Feed from the position it returns; Statement from the cursor
// it returns, in Query.Cursor, with no second header row; Members and
// Openings by giving the IDs not yet written).
//
// Members and Openings have no cursor: a call cannot tell a resumed
// export from a new one, and each call writes its header row. The rest of
// a stopped export is a file of its own, not lines to append to the first
// (appended, its header would be read as a row; migrate.Run imports an
// Openings file per run, each under an Options.Name of its own).
//
// Rows reach w a buffer at a time (32 KiB), and a row counts as written
// once w has taken all of its bytes: when w fails, the count returned, the
// last Progress call, Feed's position and Statement's cursor are those of
// the rows w took whole, never of a row still buffered. A row w took in
// part (a short write) is not counted: the host drops the incomplete line
// at the end of what w kept before it resumes.
//
// # Consistency
//
// An export is not one snapshot: it reads a page, or a member, at a time,
// each in a transaction of its own, while the program may take writes.
// Feed and Statement page, oldest first, through records the program
// appends (changes; ledger entries, each with its running balance), so
// an export taken during writes holds the records up to some instant,
// and each row is whole. Members and Openings read each member on its
// own (and each domain of a member in a transaction of its own, see
// membership.Program.Member): under concurrent writes, two rows, or two
// domains of one row, may be of different instants. For a file of one
// instant, export while the program takes no writes (or from a copy of
// its store).
//
// # CSV
//
// The CSV files have a header row and are written with encoding/csv
// (RFC 4180 quoting). Amounts are decimals as written by
// decimal.Decimal.String ("-12.5", never an exponent; a whole amount as
// "700", whatever the scale, so stored value in whole units —
// value.Definition.Scale 0 — reads as it is kept); times are RFC 3339
// in the program's zone, empty for none. Amount, number and time cells
// are written as they are.
//
// A text cell (an ID, a name, an operator's note) is never run as a
// formula where the file is opened: following OWASP's advice against CSV
// injection, a single quote (') goes before whatever a spreadsheet would
// read as the start of a formula. A text cell has a start at its
// beginning and one just after each ';' in it, because a spreadsheet in a
// locale whose list separator is ';' (much of Europe) splits the line
// there, inside the file's quotes too. A ' is inserted at a start when
// the text after it:
//
//   - begins with ' or " (so that an inserted quote is told from one of
//     the text's, and no quoted cell opens after a ';'), a tab or a
//     carriage return; or
//   - has, as its first character other than white space (unicode.IsSpace:
//     spaces, line breaks, the ideographic space U+3000), one of = + - @
//     or their full-width forms ＝ ＋ － ＠ (U+FF1D, U+FF0B, U+FF0D,
//     U+FF20), which spreadsheets in CJK locales read as formulas too.
//
// For example (text, then the cell written; the second begins with a
// space):
//
//	=1+2        '=1+2
//	 =1         ' =1
//	＋86 138    '＋86 138
//	x;=cmd      x;'=cmd
//	'ok         ''ok
//	a-b;a@b.cn  a-b;a@b.cn
//
// A ',' needs no such care: encoding/csv quotes a cell holding one, and a
// spreadsheet that splits at ',' keeps a quoted cell whole.
//
// To get the text back, remove the ' at the beginning of the cell and the
// one just after each ';', where there is one: every ' in those places
// was inserted. A spreadsheet shows the cell without its leading ' (the
// mark of a text cell).
//
// The module's other CSV files follow the same rule for their text cells:
// the audit trail (membership.Program.ExportAudit: every cell but the
// time) and the report (report.Report.WriteCSV: the period and the name).
// Openings is the exception (see there): its file is read back by a
// program, not a spreadsheet.
package export

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/csvsafe"
	"github.com/shopspring/decimal"
)

// Progress is called for each row once w has taken it, with the count of
// rows written so far (header rows are not counted); as rows reach w a
// buffer at a time, the calls come in bursts. It runs in the exporting
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
func text(s string) string { return csvsafe.Text(s) }

// amount writes an amount cell.
func amount(d decimal.Decimal) string { return d.String() }

// instant writes a time cell: RFC 3339, empty for the zero time.
func instant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// sink hands what an export writes to w a buffer at a time and counts a
// row as written only once w has taken all of its bytes: the count and
// the position an export returns are where the host resumes, so a row
// still in a buffer, or one w took in part, must not be in them.
type sink struct {
	w        io.Writer
	buf      []byte
	marks    []mark   // the rows in buf, in order
	rows     int64    // rows w has taken whole
	pos      position // the position of the last of them
	progress Progress
	err      error // w's first error; nothing is written after it
}

// mark is the end in buf of a row and its position.
type mark struct {
	end int
	pos position
}

// position is where a row is in what an export reads: Feed's change
// number in seq; Statement's entry number and time, from which the
// ledger's cursor after the entry is made; none for a member's row.
type position struct {
	seq uint64
	at  time.Time
}

// sinkBuffer is how many bytes a sink gathers before handing them to w.
const sinkBuffer = 32 << 10

// Write appends p to the buffer; it never fails (w's errors come from
// end and flush).
func (s *sink) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// end marks the bytes written since the last mark as one row, at
// position pos, and hands the buffer to w once it is full.
func (s *sink) end(pos position) error {
	s.marks = append(s.marks, mark{end: len(s.buf), pos: pos})
	if len(s.buf) < sinkBuffer {
		return nil
	}
	return s.flush()
}

// flush hands the buffer to w and counts the rows w took whole. A header
// is written as the bytes before the first mark: it is not a row.
func (s *sink) flush() error {
	if s.err != nil {
		return s.err
	}
	n, err := 0, error(nil)
	if len(s.buf) > 0 {
		n, err = s.w.Write(s.buf)
		if err == nil && n < len(s.buf) {
			err = io.ErrShortWrite
		}
	}
	for _, m := range s.marks {
		if m.end > n {
			break
		}
		s.rows++
		s.pos = m.pos
		if s.progress != nil {
			s.progress(s.rows)
		}
	}
	s.buf, s.marks = s.buf[:0], s.marks[:0]
	if err != nil {
		s.err = fmt.Errorf("write: %w", err)
	}
	return s.err
}

// rowWriter writes CSV rows through a sink.
type rowWriter struct {
	w *csv.Writer
	s *sink
}

func newRowWriter(w io.Writer, progress Progress) *rowWriter {
	s := &sink{w: w, progress: progress}
	return &rowWriter{w: csv.NewWriter(s), s: s}
}

// header writes the header row, which is not counted.
func (r *rowWriter) header(cols []string) error {
	if err := r.w.Write(cols); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r.w.Flush()
	return nil
}

// row writes one row, at position pos.
func (r *rowWriter) row(cells []string, pos position) error {
	if err := r.w.Write(cells); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r.w.Flush() // into the sink's buffer, so that the row's end is known
	return r.s.end(pos)
}

// rows is the count of rows w has taken whole.
func (r *rowWriter) rows() int64 { return r.s.rows }

// flush ends the file: it hands what is buffered to w and returns w's
// error, or err when there was one already (after handing w the rows
// before it).
func (r *rowWriter) flush(err error) error {
	switch ferr := r.s.flush(); {
	case ferr == nil || ferr == err:
		return err
	case err == nil:
		return ferr
	default:
		return errors.Join(err, ferr)
	}
}
