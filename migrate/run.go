package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/memberkit/membership/change"
)

// Target applies opening states; membership.Program is one. Each row is
// its own unit of work: errs[i] is row i's refusal, outs[i] its outcome
// (Duplicate set for a row applied before). err is a failure of the store
// or of ctx, and then nothing of the rows was written. With stop set, the
// rows after the first refused are not applied (outcome and error nil).
type Target interface {
	OpenMembers(ctx context.Context, rows []Member, stop bool) (outs []*change.Outcome, errs []error, err error)
}

// Source yields the rows of an import, in order. Next returns io.EOF after
// the last row, and any other error when the source cannot be read on
// (then the run stops); a row that does not parse comes back as a Row
// with Err set, and the source goes on.
type Source interface {
	Next() (Row, error)
}

// Row is one row of a source: its line (the first line of a CSV record),
// the member it holds, or why it does not parse.
type Row struct {
	Line   int
	Member Member
	Err    error
}

// RowError is a bad row: its line, its member (when it got that far), the
// field at fault (empty when the row as a whole is: a JSON line that is
// not an object) and the cause.
type RowError struct {
	Line   int
	Member string
	Field  string
	Err    error
}

func (e *RowError) Error() string {
	s := "line " + strconv.Itoa(e.Line)
	if e.Member != "" {
		s += fmt.Sprintf(" (member %q)", e.Member)
	}
	if e.Field != "" {
		s += ", field " + e.Field
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// Progress counts the rows of a run so far: read, applied now, already
// applied before (duplicates of an earlier run), and bad.
type Progress struct {
	Rows       int
	Applied    int
	Duplicates int
	Failed     int
}

// Result is what a run did: its counts, and the first MaxErrors bad rows.
type Result struct {
	Progress
	Errors []RowError
}

// MaxErrors is how many bad rows a Result keeps (Options.OnError sees
// them all), so that memory stays flat however bad a file is.
const MaxErrors = 1000

// Options configure Run.
type Options struct {
	// Name names the source in the rows' request IDs ("<Name>:<line>"),
	// for a row without its own: the file's name, say. Required unless
	// every row has a request ID. Keep it when running the same file
	// again: that is what makes the second run change nothing.
	Name string
	// Operator is who imports, for rows that name none (default
	// "migrate").
	Operator string
	// At is the opening time of rows that give none (required then).
	At time.Time
	// Batch is how many rows go to the Target at a time, in one store
	// transaction (default 256).
	Batch int
	// StopOnError stops the run at the first bad row: the rows before it
	// are applied, it and the rest are not. Run then returns an error
	// wrapping the *RowError.
	StopOnError bool
	// Progress, when set, is called after each batch.
	Progress func(Progress)
	// OnError, when set, is called for each bad row.
	OnError func(RowError)
}

// Run reads src to its end and applies its rows to dst, a batch at a time.
// Bad rows are reported (Result.Errors, Options.OnError) and skipped, or
// stop the run (Options.StopOnError). It returns early with ctx's error
// when ctx is done (between batches, or inside one, which then writes
// nothing), with a source's read error, or with dst's failure: running
// the same source again under the same Name then resumes, the rows
// already applied counting as duplicates.
func Run(ctx context.Context, dst Target, src Source, o Options) (Result, error) {
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Operator == "" {
		o.Operator = "migrate"
	}
	r := run{dst: dst, o: o, rows: make([]Member, 0, o.Batch), lines: make([]int, 0, o.Batch)}
	for {
		if err := ctx.Err(); err != nil {
			return r.res, err
		}
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return r.res, fmt.Errorf("migrate: read: %w", err)
		}
		r.res.Rows++
		if row.Err == nil {
			row.Err = r.complete(&row)
		}
		if row.Err != nil {
			// The rows before a bad one go first, so that a stop leaves
			// exactly them applied.
			if err := r.flush(ctx); err != nil {
				return r.res, err
			}
			if err := r.bad(row.Line, row.Member.Member, row.Err); err != nil {
				return r.res, err
			}
			r.progress()
			continue
		}
		r.rows, r.lines = append(r.rows, row.Member), append(r.lines, row.Line)
		if len(r.rows) == o.Batch {
			if err := r.flush(ctx); err != nil {
				return r.res, err
			}
		}
	}
	return r.res, r.flush(ctx)
}

type run struct {
	dst   Target
	o     Options
	res   Result
	rows  []Member
	lines []int
}

// complete fills in what a row leaves to the options.
func (r *run) complete(row *Row) error {
	m := &row.Member
	if m.RequestID == "" {
		if r.o.Name == "" {
			return Fieldf("request_id", "no request ID, and Options.Name is empty")
		}
		m.RequestID = r.o.Name + ":" + strconv.Itoa(row.Line)
	}
	if m.Operator == "" {
		m.Operator = r.o.Operator
	}
	if m.At.IsZero() {
		if r.o.At.IsZero() {
			return Fieldf("at", "no time, and Options.At is zero")
		}
		m.At = r.o.At
	}
	return nil
}

// flush applies the rows waiting.
func (r *run) flush(ctx context.Context) error {
	if len(r.rows) == 0 {
		return nil
	}
	outs, errs, err := r.dst.OpenMembers(ctx, r.rows, r.o.StopOnError)
	if err != nil {
		return fmt.Errorf("migrate: lines %d to %d: %w", r.lines[0], r.lines[len(r.lines)-1], err)
	}
	var stop error
	for i := range r.rows {
		switch {
		case errs[i] != nil:
			if err := r.bad(r.lines[i], r.rows[i].Member, errs[i]); err != nil {
				stop = err
			}
		case outs[i] == nil: // after a stop
		case outs[i].Duplicate:
			r.res.Duplicates++
		default:
			r.res.Applied++
		}
	}
	r.rows, r.lines = r.rows[:0], r.lines[:0]
	r.progress()
	return stop
}

// bad records a bad row; with StopOnError it returns the error to stop
// on.
func (r *run) bad(line int, member string, err error) error {
	re := RowError{Line: line, Member: member, Err: err}
	var fe *FieldError
	if errors.As(err, &fe) {
		re.Field = fe.Field
	}
	r.res.Failed++
	if len(r.res.Errors) < MaxErrors {
		r.res.Errors = append(r.res.Errors, re)
	}
	if r.o.OnError != nil {
		r.o.OnError(re)
	}
	if r.o.StopOnError {
		return fmt.Errorf("migrate: stopped at the first bad row: %w", &re)
	}
	return nil
}

func (r *run) progress() {
	if r.o.Progress != nil {
		r.o.Progress(r.res.Progress)
	}
}
