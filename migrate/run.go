package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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

// RowError is a bad row: its line, its member (when it could be read), the
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
	// every row has a request ID. Keep it, and Operator and At, when
	// running the same file again: a row's request is its content, so the
	// second run finds each row applied and changes nothing (under
	// another At, each row is a conflict, ErrEventConflict). A file edited
	// in between shifts the lines: a row applied before under another
	// line is then refused as a known member, not applied twice.
	Name string
	// Operator is who imports, for rows that name none (default
	// "migrate").
	Operator string
	// At is the opening time of rows that give none (required then).
	At time.Time
	// Batch is how many rows go to the Target at a time, in one store
	// transaction (default 256).
	Batch int
	// Workers is how many batches may be in flight at once (default 2):
	// while the store applies one, the next is read and encoded, and a
	// store with group commit (store/bolt) commits them together. Results
	// are still counted, and bad rows reported, in the source's order, and
	// rows that share a member, a request ID or an old coupon code are
	// applied in the source's order (a batch holding one waits for the
	// batches in flight), so the first of them is the one applied.
	// StopOnError runs one batch at a time.
	Workers int
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
// nothing), with a source's read error (for input past reading, such as
// a record longer than MaxRecord, one wrapping ErrBadRow), or with dst's
// failure: running the same source again under the same Name then
// resumes, the rows already applied counting as duplicates. A nil dst or
// src is refused with an error wrapping ErrInvalidArgument that names it,
// before anything is read.
func Run(ctx context.Context, dst Target, src Source, o Options) (Result, error) {
	switch {
	case dst == nil:
		return Result{}, fmt.Errorf("migrate: run: %w: dst: nil target", ErrInvalidArgument)
	case src == nil:
		return Result{}, fmt.Errorf("migrate: run: %w: src: nil source", ErrInvalidArgument)
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Operator == "" {
		o.Operator = "migrate"
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.StopOnError {
		o.Workers = 1
	}
	r := run{ctx: ctx, dst: dst, o: o}
	r.next()
	err := r.read(src)
	if ferr := r.flush(); err == nil {
		err = ferr
	}
	if derr := r.drain(0); err == nil {
		err = derr
	}
	return r.res, err
}

// batch is a batch of rows in flight: its rows, their lines, the rows
// among them that do not parse (not sent), the keys the rows hold, and
// where its result comes.
type batch struct {
	rows  []Member
	lines []int
	bad   []badRow
	keys  map[rowKey]struct{}
	done  chan batchResult
}

// badRow is a row of a batch that does not parse, before rows[at].
type badRow struct {
	at     int
	line   int
	member string
	err    error
}

// size is how many rows of the source the batch holds.
func (b *batch) size() int { return len(b.rows) + len(b.bad) }

// rowKey is what two rows may share that makes the order they are applied
// in matter: the member (the second is a known member), the request ID (a
// duplicate or a conflict), an old coupon code (another coupon's).
type rowKey struct {
	kind byte // 'm', 'r' or 'c'
	s    string
}

// add adds m to the batch being filled.
func (b *batch) add(m Member, line int) {
	b.rows, b.lines = append(b.rows, m), append(b.lines, line)
	b.keys[rowKey{'m', m.Member}] = struct{}{}
	b.keys[rowKey{'r', m.RequestID}] = struct{}{}
	for _, c := range m.Coupons {
		if c.Code != "" {
			b.keys[rowKey{'c', c.Code}] = struct{}{}
		}
	}
}

// shares reports whether b and o hold a key both.
func (b *batch) shares(o *batch) bool {
	small, large := b.keys, o.keys
	if len(small) > len(large) {
		small, large = large, small
	}
	for k := range small {
		if _, ok := large[k]; ok {
			return true
		}
	}
	return false
}

type batchResult struct {
	outs []*change.Outcome
	errs []error
	err  error
}

type run struct {
	ctx      context.Context
	dst      Target
	o        Options
	res      Result
	cur      *batch   // the batch being filled
	inflight []*batch // sent, in the source's order
}

// read reads src to its end, sending full batches.
func (r *run) read(src Source) error {
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("migrate: read: %w", err)
		}
		r.res.Rows++
		if row.Err == nil {
			row.Err = r.complete(&row)
		}
		if row.Err != nil && !r.o.StopOnError {
			// Reported when the batch is counted, in the source's
			// order, without cutting the batch short.
			r.cur.bad = append(r.cur.bad, badRow{at: len(r.cur.rows), line: row.Line, member: row.Member.Member, err: row.Err})
		} else if row.Err != nil {
			// The rows before a bad one are counted first, so that a
			// stop leaves exactly them applied.
			if err := r.flush(); err != nil {
				return err
			}
			if err := r.drain(0); err != nil {
				return err
			}
			if err := r.bad(row.Line, row.Member.Member, row.Err); err != nil {
				return err
			}
			r.progress()
			continue
		} else {
			r.cur.add(row.Member, row.Line)
		}
		if r.cur.size() == r.o.Batch {
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
}

func (r *run) next() {
	r.cur = &batch{rows: make([]Member, 0, r.o.Batch), lines: make([]int, 0, r.o.Batch),
		keys: make(map[rowKey]struct{}, 2*r.o.Batch), done: make(chan batchResult, 1)}
}

// flush sends the batch being filled, after waiting for the oldest in
// flight when Workers are, and for all of them when one holds a row that
// shares a key with it (the same member, request ID or old coupon code):
// batches in flight are applied in any order, and such rows must be
// applied in the source's, so that the first of them is the one applied.
func (r *run) flush() error {
	if r.cur.size() == 0 {
		return nil
	}
	if err := r.drain(r.o.Workers - 1); err != nil {
		return err
	}
	if slices.ContainsFunc(r.inflight, r.cur.shares) {
		if err := r.drain(0); err != nil {
			return err
		}
	}
	b := r.cur
	r.next()
	r.inflight = append(r.inflight, b)
	if len(b.rows) == 0 { // only bad rows: nothing to apply
		b.done <- batchResult{}
		return nil
	}
	go func() {
		outs, errs, err := r.dst.OpenMembers(r.ctx, b.rows, r.o.StopOnError)
		b.done <- batchResult{outs, errs, err}
	}()
	return nil
}

// drain waits for the batches in flight, oldest first, until at most
// keep are, and counts their results.
func (r *run) drain(keep int) error {
	var first error
	for len(r.inflight) > keep || (first != nil && len(r.inflight) > 0) {
		b := r.inflight[0]
		r.inflight = r.inflight[1:]
		res := <-b.done
		k := 0 // the next bad row to report
		badTo := func(i int) {
			for ; k < len(b.bad) && b.bad[k].at <= i; k++ {
				if err := r.bad(b.bad[k].line, b.bad[k].member, b.bad[k].err); err != nil && first == nil {
					first = err
				}
			}
		}
		if res.err != nil {
			badTo(len(b.rows))
			if first == nil {
				first = fmt.Errorf("migrate: lines %d to %d: %w", b.lines[0], b.lines[len(b.lines)-1], res.err)
			}
			continue
		}
		for i := range b.rows {
			badTo(i)
			switch {
			case res.errs[i] != nil:
				if err := r.bad(b.lines[i], b.rows[i].Member, res.errs[i]); err != nil && first == nil {
					first = err
				}
			case res.outs[i] == nil: // after a stop
			case res.outs[i].Duplicate:
				r.res.Duplicates++
			default:
				r.res.Applied++
			}
		}
		badTo(len(b.rows))
		r.progress()
	}
	// After a failure the loop waited for every batch in flight, so that
	// nothing runs after Run returns.
	return first
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
