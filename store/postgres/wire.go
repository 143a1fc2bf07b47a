package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A transaction's statements go to the server through pgconn, pgx's
// connection layer, rather than pgx.Batch: their parameters (bytea, arrays
// of bytea and of text, a bigint) are written here in PostgreSQL's binary
// format into a buffer the store reuses, and their results (bytea and
// bigint columns) read from it, where pgx would encode each array through
// reflection into buffers of its own. That was a quarter of the bytes an
// event allocated on the client (BenchmarkProgram64), whose collection
// was most of the client's processor time beyond the library's own work.
// A tracer on the pool's ConnConfig that is a pgx.BatchTracer is told of
// each round trip as pgx would tell it.

// OIDs of the parameter types the store's statements take.
const (
	oidBytea      = 17
	oidInt8       = 20
	oidByteaArray = 1001
	oidTextArray  = 1009
	oidText       = 25
)

// binaryFormat is the one format code that makes every parameter, or every
// result column, binary.
var binaryFormat = []int16{1}

// batch is the statements of one round trip.
type batch struct {
	pb pgconn.Batch
	// traced holds the statements for a tracer (pgx.BatchTracer), nil
	// without one.
	traced *pgx.Batch
}

// encoder writes parameters; a Store keeps them in a pool (scratch).
type encoder struct {
	buf    []byte
	params [][]byte
	oids   []uint32
}

// encode writes args: nil (NULL), []byte, [][]byte, []string or int.
func (e *encoder) encode(args []any) error {
	e.buf, e.params, e.oids = e.buf[:0], e.params[:0], e.oids[:0]
	// Offsets first: buf may move while it grows.
	var offs [8][2]int
	if len(args) > len(offs) {
		return fmt.Errorf("%d parameters", len(args))
	}
	for i, a := range args {
		start := len(e.buf)
		var oid uint32
		switch v := a.(type) {
		case nil:
			offs[i] = [2]int{-1, -1}
			e.oids = append(e.oids, 0)
			continue
		case []byte:
			e.buf, oid = append(e.buf, v...), oidBytea
		case [][]byte:
			e.buf, oid = appendArray(e.buf, oidBytea, v), oidByteaArray
		case []string:
			e.buf, oid = appendArray(e.buf, oidText, v), oidTextArray
		case int:
			e.buf, oid = binary.BigEndian.AppendUint64(e.buf, uint64(int64(v))), oidInt8
		default:
			return fmt.Errorf("a parameter of type %T", a)
		}
		offs[i] = [2]int{start, len(e.buf)}
		e.oids = append(e.oids, oid)
	}
	for i := range args {
		if offs[i][0] < 0 {
			e.params = append(e.params, nil)
			continue
		}
		e.params = append(e.params, e.buf[offs[i][0]:offs[i][1]:offs[i][1]])
	}
	return nil
}

// appendArray appends a one-dimensional array of elems, none NULL, in the
// binary format (array_send): dimensions, no NULLs, the element type, the
// length and lower bound, then each element's length and bytes.
func appendArray[E string | []byte](buf []byte, elemOID uint32, elems []E) []byte {
	if len(elems) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0) // no dimension
		buf = binary.BigEndian.AppendUint32(buf, 0)
		return binary.BigEndian.AppendUint32(buf, elemOID)
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, elemOID)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, el := range elems {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(el)))
		buf = append(buf, el...)
	}
	return buf
}

// queueStatement queues sql with args in b: by the description of the
// statement prepared under name, or, when name is "", as an unnamed
// statement with the parameters' types given.
func (t *tx) queueStatement(b *batch, sql, name string, args []any) error {
	e := t.s.encoders.Get().(*encoder)
	defer t.s.encoders.Put(e)
	// Every error here fails the transaction (t.fail), not just the
	// caller's statement: commit returns t.err when queuing fails, and a
	// nil t.err there would report a commit that was never sent.
	if err := e.encode(args); err != nil {
		return t.fail(err)
	}
	formats := binaryFormat
	if len(args) == 0 {
		formats = nil
	}
	if name != "" {
		sd, err := t.conn.Prepare(t.ctx, name, sql)
		if err != nil {
			return t.fail(err)
		}
		if len(sd.ParamOIDs) != len(args) {
			return t.fail(fmt.Errorf("statement %s takes %d parameters, given %d", name, len(sd.ParamOIDs), len(args)))
		}
		for i, oid := range sd.ParamOIDs {
			if e.oids[i] != 0 && e.oids[i] != oid {
				return t.fail(fmt.Errorf("statement %s: parameter %d is of type %d, given %d", name, i+1, oid, e.oids[i]))
			}
		}
		b.pb.ExecStatement(sd, e.params, formats, binaryFormat)
	} else {
		b.pb.ExecParams(sql, e.params, e.oids, formats, binaryFormat)
	}
	if b.traced != nil {
		b.traced.Queue(sql, args...)
	}
	return nil
}

// results reads the results of a batch, one statement after the other.
type results struct {
	t      *tx
	mrr    *pgconn.MultiResultReader
	tracer pgx.BatchTracer
	ctx    context.Context
	traced *pgx.Batch
	i      int // the statement whose result is next
	err    error
}

// sendBatch sends b and returns its results.
func (t *tx) sendBatch(b *batch) *results {
	r := &results{t: t, ctx: t.ctx, traced: b.traced}
	if b.traced != nil {
		r.tracer = t.s.tracer
		r.ctx = r.tracer.TraceBatchStart(r.ctx, t.conn, pgx.TraceBatchStartData{Batch: b.traced})
	}
	r.mrr = t.conn.PgConn().ExecBatch(r.ctx, &b.pb)
	return r
}

// next returns the reader of the next statement's result, or the error
// that ended the batch.
func (r *results) next() (*pgconn.ResultReader, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.mrr.NextResult() {
		err := r.mrr.Close()
		if err == nil {
			err = errors.New("postgres: a statement's result is missing")
		}
		r.err = err
		r.trace(pgconn.CommandTag{}, err)
		return nil, err
	}
	return r.mrr.ResultReader(), nil
}

func (r *results) trace(tag pgconn.CommandTag, err error) {
	if r.tracer != nil && r.i < len(r.traced.QueuedQueries) {
		q := r.traced.QueuedQueries[r.i]
		r.tracer.TraceBatchQuery(r.ctx, r.t.conn, pgx.TraceBatchQueryData{SQL: q.SQL, Args: q.Arguments, CommandTag: tag, Err: err})
	}
	r.i++
}

// exec reads the next statement's result, which has no rows or whose
// rows are not wanted.
func (r *results) exec() (pgconn.CommandTag, error) {
	rr, err := r.next()
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := rr.Close()
	r.trace(tag, err)
	return tag, err
}

// query reads the next statement's rows: row is called with each row's
// columns, which it must copy to keep.
func (r *results) query(row func(cols [][]byte) error) error {
	rr, err := r.next()
	if err != nil {
		return err
	}
	var ferr error
	for ferr == nil && rr.NextRow() {
		ferr = row(rr.Values())
	}
	tag, err := rr.Close()
	if err == nil {
		err = ferr
	}
	r.trace(tag, err)
	return err
}

// close reads what is left of the batch's results, and returns the first
// error of the batch.
func (r *results) close() error {
	err := r.mrr.Close()
	if r.tracer != nil {
		r.tracer.TraceBatchEnd(r.ctx, r.t.conn, pgx.TraceBatchEndData{Err: err})
		r.tracer = nil
	}
	return err
}

// int8Col decodes a bigint column in the binary format.
func int8Col(col []byte) (int64, error) {
	if len(col) != 8 {
		return 0, fmt.Errorf("postgres: a bigint of %d bytes", len(col))
	}
	return int64(binary.BigEndian.Uint64(col)), nil
}

// byteaCol copies a bytea column in the binary format (its bytes); a
// NULL one is an error, as the table has none.
func byteaCol(col []byte) ([]byte, error) {
	if col == nil {
		return nil, errors.New("postgres: a NULL value")
	}
	return append(make([]byte, 0, len(col)), col...), nil
}
