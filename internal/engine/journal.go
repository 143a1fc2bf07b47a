package engine

import (
	"bytes"
	"container/heap"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
)

// The input journal keeps every input the engine accepted (an event, an
// operator request, a page of due work, an update), so that another store
// can be brought to the same state by applying them again
// (membership.Program.Replay). It has two layouts, chosen by the store.
//
// On a store that runs Updates one at a time (store/memory, store/bolt)
// it is one global sequence: key = 8-byte big-endian number, allocated
// from a counter in bMeta, in the order the transactions committed. The
// counter is one key every input writes, which costs nothing there.
//
// On a store that runs them concurrently (store.Striper: store/postgres)
// that counter would make every writer conflict, so the journal is kept
// per member: an input that names a member goes under member, NUL, the
// member's own number (ledger.Ledger.Sequence, the counter the member's
// transactions and feed records already use), so that an event writes no
// key another member's event writes, and a member's inputs are numbered in
// the order their transactions committed. An input that names no member
// (a page of due work, an update such as a tag recompute, a bulk request)
// goes under the empty member: NUL, its time, a byte that puts the last,
// empty page of an Advance call after the other inputs of its time, a
// number this engine increments for each such input, and 8 random bytes
// the engine drew when the journal was turned on (two instances never
// write the same key). These inputs are ordered by time; at the same time
// the empty pages last, and otherwise by the number, which orders one
// instance's inputs as they were made but not two instances' between
// them. Reading it (Journal) merges the per-member journals in time order (see
// mergeJournal).
//
// An input's record holds what re-applying it needs: the event, or the
// request's action and JSON, or the time of the due work, and the random
// bytes its units drew (coupon codes), so that a replay draws the same
// ones. A page of due work records too how many items it performed and,
// since version 2 of the record, a digest of what they did (pageDigest),
// which the replay's page must match; since version 3 an event, a request
// and an update record the digest of what they did too (the same sum over
// their own outcome), which the replay's must match.
const (
	bJournal = "journal" // sequence number → input record
)

var journalSeqKey = []byte("journal.seq")

// ErrReplayDiverged is returned by a replay whose input did not do on the
// target what it did on the source: an input refused, a page of due work
// of another size or posting or publishing something else, random bytes
// left over or missing.
var ErrReplayDiverged = errors.New("replay diverged from the journal")

// Input kinds, the second byte of a journal record.
const (
	InputEvent   = 'e' // an event (Process, ProcessBatch)
	InputRequest = 'o' // an operator request (Apply)
	InputAdvance = 'a' // one page of due work (Advance)
	InputUpdate  = 'u' // an update that is not idempotent (Update)
)

// Journal record versions: version 2 adds a page's digest, version 3 an
// event's, a request's and an update's; records written before still
// decode, with no digest where their version kept none.
const (
	journalV1 = 1
	journalV2 = 2
	journalV3 = 3
)

// Input is one record of the journal.
type Input struct {
	// Seq is the input's place in the journal (1, 2, …): in a per-member
	// journal (a store.Striper's), its place in the merged order.
	Seq uint64
	// Kind is InputEvent, InputRequest, InputAdvance or InputUpdate.
	Kind byte
	// Version is the version of the definition the input ran under.
	Version uint64
	// At is the event's time, the request's, or the time Advance ran to.
	At time.Time
	// Event is the event (InputEvent).
	Event event.Event
	// Action and Body are the request's action and JSON (InputRequest,
	// InputUpdate).
	Action string
	Body   []byte
	// Items is how many due items the page performed (InputAdvance; 0 for
	// the last page of an Advance call, which sets the watermark).
	Items int
	// Digest is what the input did (pageDigest of its outcome; a page's,
	// of its items' outcomes), when Digested: a record written before
	// digests were kept (a page's before version 2, another input's
	// before version 3) has none.
	Digest   uint64
	Digested bool
	// Rand is the random bytes the input's units drew, in order.
	Rand []byte
}

func (in Input) appendTo(b []byte) []byte {
	var ev []byte
	if in.Kind == InputEvent {
		ev = eventRecord{Event: in.Event}.appendTo(nil)
	}
	if b == nil {
		// Room for the whole record (its two bytes, varints and time
		// take at most 72), so that it is allocated once.
		b = make([]byte, 0, 72+len(ev)+len(in.Action)+len(in.Body)+len(in.Rand))
	}
	w := codec.Writer{B: b}
	w.B = append(w.B, journalV3, in.Kind)
	w.Uint(in.Version)
	w.Time(in.At)
	switch in.Kind {
	case InputEvent:
		w.Bytes(ev)
	case InputRequest, InputUpdate:
		w.String(in.Action)
		w.Bytes(in.Body)
	case InputAdvance:
		w.Uint(uint64(in.Items))
	}
	w.Uint(in.Digest)
	w.Bytes(in.Rand)
	return w.B
}

func decodeInput(seq uint64, b []byte) (Input, error) {
	if len(b) < 2 || b[0] < journalV1 || b[0] > journalV3 {
		return Input{}, fmt.Errorf("%w: journal record %d: version", ErrCorrupt, seq)
	}
	in := Input{Seq: seq, Kind: b[1]}
	r := codec.Reader{B: b[2:]}
	in.Version = r.Uint()
	in.At = r.Time()
	switch in.Kind {
	case InputEvent:
		raw := []byte(r.String())
		if r.Err() == nil {
			rec, err := decodeRecord(raw)
			if err != nil {
				return Input{}, fmt.Errorf("journal record %d: %w", seq, err)
			}
			in.Event = rec.Event
		}
		in.Digested = b[0] >= journalV3
	case InputRequest, InputUpdate:
		in.Action = r.String()
		in.Body = []byte(r.String())
		in.Digested = b[0] >= journalV3
	case InputAdvance:
		n := r.Uint()
		if n > math.MaxInt {
			return Input{}, fmt.Errorf("%w: journal record %d: %d items", ErrCorrupt, seq, n)
		}
		in.Items = int(n)
		in.Digested = b[0] >= journalV2
	default:
		return Input{}, fmt.Errorf("%w: journal record %d: kind %q", ErrCorrupt, seq, in.Kind)
	}
	if in.Digested {
		in.Digest = r.Uint()
	}
	if rnd := r.String(); rnd != "" {
		in.Rand = []byte(rnd)
	}
	if err := r.Err(); err != nil {
		return Input{}, fmt.Errorf("%w: journal record %d: %v", ErrCorrupt, seq, err)
	}
	if len(r.B) != 0 {
		return Input{}, fmt.Errorf("%w: journal record %d: %d bytes after the record", ErrCorrupt, seq, len(r.B))
	}
	return in, nil
}

// pageDigest adds to d what one unit of work did (out: a due item, an
// event, a request, an update): a hash of each ledger entry it wrote
// (account, kind, amount) and of each change it published (kind, member).
// Hashes are added mod 2^64, so a page's digest, and the sum of several
// pages', does not depend on the order its items ran in; it leaves out
// what a replay from a per-member journal numbers otherwise
// (transactions, lots, feed positions). An expiry that took another
// amount, an event that earned another, or a review that published
// another change, gives another digest.
func pageDigest(d uint64, out *change.Outcome) uint64 {
	h := fnv.New64a()
	field := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, e := range out.Entries {
		h.Reset()
		field("entry")
		field(string(e.Account.Asset))
		field(e.Account.Member)
		field(e.Account.Sub)
		field(string(e.Kind))
		field(e.Amount.String())
		d += h.Sum64()
	}
	for _, c := range out.Changes {
		h.Reset()
		field("change")
		field(c.Kind)
		field(c.Member)
		d += h.Sum64()
	}
	return d
}

// journalState is the engine's journal switch and, during a replay, the
// random bytes the replayed inputs drew on the source.
type journalState struct {
	on     bool
	replay atomic.Pointer[replayRand]
	// On a store.Striper, the keys of inputs that name no member end with
	// the engine's own next number and nonce (see the layout above).
	next  atomic.Uint64
	nonce [8]byte
}

// EnableJournal turns the input journal on (it is off by default): one
// global sequence on a store that runs Updates one at a time, a journal
// per member on one that runs them concurrently (store.Striper). Call it
// before the engine is used.
func (e *Engine) EnableJournal() error {
	if e.split {
		if _, err := crand.Read(e.jr.nonce[:]); err != nil {
			return fmt.Errorf("input journal: %w", err)
		}
	}
	e.jr.on = true
	return nil
}

// Journaling reports whether the input journal is on.
func (e *Engine) Journaling() bool { return e.jr.on }

// tape is the random source of the units of one input: it draws from the
// engine's source, or during a replay from the bytes the source store's
// input drew, and keeps what it drew for the input's journal record.
type tape struct {
	src  io.Reader
	drew []byte
	keep bool
}

func (t *tape) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if t.keep {
		t.drew = append(t.drew, p[:n]...)
	}
	return n, err
}

// newTape returns the tape of one input: nil when the journal is off and
// no replay runs (units then draw from the engine's source directly).
func (e *Engine) newTape() *tape {
	r := e.jr.replay.Load()
	if !e.jr.on && r == nil {
		return nil
	}
	t := &tape{src: e.rand, keep: e.jr.on}
	if r != nil {
		t.src = r
	}
	return t
}

// Rand returns the random source a unit draws from: its input's tape, so
// that the journal keeps what it drew and a replay draws the same.
func (u *Unit) Rand() io.Reader {
	if u.tape == nil {
		return u.e.rand
	}
	return u.tape
}

func (t *tape) bytes() []byte {
	if t == nil {
		return nil
	}
	return t.drew
}

// inputDigest returns the digest of what an input's unit did (out), when
// the input has a tape (the journal is on or a replay runs): nothing is
// hashed otherwise.
func inputDigest(tp *tape, out *change.Outcome) uint64 {
	if tp == nil {
		return 0
	}
	return pageDigest(0, out)
}

// journal appends in to the journal in tx, when the journal is on, and
// during a replay notes what an event, a request or an update did
// (in.Digest) for the replay to compare. member is the member the input
// names ("" none); led, when not nil, is the ledger of the input's unit
// (its counter for member is then not read again).
func (e *Engine) journal(tx store.Tx, led *ledger.Ledger, member string, in Input) error {
	if r := e.jr.replay.Load(); r != nil {
		r.did(in)
	}
	if !e.jr.on {
		return nil
	}
	in.Version = binary.BigEndian.Uint64(e.def.record[:8])
	if e.split {
		k, err := e.journalKey(tx, led, member, in)
		if err != nil {
			return err
		}
		// The key is new: inserted unread where the store can (as an
		// event's record is), so that its absence is not read and guarded.
		if ins, ok := tx.(store.Inserter); ok && ins.Fresh(bJournal, k) {
			return ins.Insert(bJournal, k, in.appendTo(nil))
		}
		return tx.Put(bJournal, k, in.appendTo(nil))
	}
	var seq uint64
	v, err := tx.Get(bMeta, journalSeqKey)
	switch {
	case err == nil && len(v) == 8:
		seq = binary.BigEndian.Uint64(v)
	case err == nil:
		return fmt.Errorf("%w: journal sequence", ErrCorrupt)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	seq++
	k := binary.BigEndian.AppendUint64(nil, seq)
	if err := tx.Put(bMeta, journalSeqKey, k); err != nil {
		return err
	}
	return tx.Put(bJournal, k, in.appendTo(nil))
}

// journalKey returns the key of an input in a per-member journal (see the
// layout above): it writes only member's own counter, or nothing.
func (e *Engine) journalKey(tx store.Tx, led *ledger.Ledger, member string, in Input) ([]byte, error) {
	if member == "" {
		// The last, empty page of an Advance call comes after every other
		// input of its time: when several instances advance to the same
		// time at once, one performs the due items and the others find
		// none, and a replay must perform them before the empty pages.
		var last byte
		if in.Kind == InputAdvance && in.Items == 0 {
			last = 1
		}
		k := append(keys.New().Str("").Time(in.At), last)
		return append(binary.BigEndian.AppendUint64(k, e.jr.next.Add(1)), e.jr.nonce[:]...), nil
	}
	if led == nil {
		led = ledger.New(tx, e.loc)
	}
	n, err := led.Sequence(member)
	if err != nil {
		return nil, err
	}
	return keys.New().Str(member).U64(n), nil
}

// Journal calls fn for each journal record of st after sequence after, in
// order, reading pages of up to page records in read-only transactions.
// fn's error stops the scan and is returned; a record that does not
// decode, or is missing (a gap, or the end short of the journal's
// sequence), is ErrCorrupt. A store.Striper's journal is
// per member: it is read whole and merged (mergeJournal) before fn is
// called, and its sequence numbers are places in the merged order.
func Journal(ctx context.Context, st store.Store, after uint64, page int, fn func(Input) error) error {
	if page <= 0 {
		page = 256
	}
	if _, ok := st.(store.Striper); ok {
		ins, err := mergeJournal(ctx, st, page)
		if err != nil {
			return err
		}
		for _, in := range ins[min(after, uint64(len(ins))):] {
			if err := fn(in); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var ins []Input
		err := st.View(ctx, func(tx store.Tx) error {
			ins = ins[:0]
			start := binary.BigEndian.AppendUint64(nil, after+1)
			err := tx.Scan(bJournal, start, nil, false, func(k, v []byte) error {
				if len(k) != 8 {
					return fmt.Errorf("%w: journal key %x", ErrCorrupt, k)
				}
				seq := binary.BigEndian.Uint64(k)
				if seq != after+uint64(len(ins))+1 {
					return fmt.Errorf("%w: journal record %d missing", ErrCorrupt, after+uint64(len(ins))+1)
				}
				in, err := decodeInput(seq, v)
				if err != nil {
					return err
				}
				ins = append(ins, in)
				if len(ins) == page {
					return store.StopScan
				}
				return nil
			})
			if err != nil || len(ins) == page {
				return err
			}
			// The last page: the records up to the sequence, read in the
			// same transaction, are all there (records missing at the end
			// would otherwise end the journal early, unnoticed).
			n, err := journalSeq(tx)
			switch last := after + uint64(len(ins)); {
			case err != nil:
			case last < n:
				err = fmt.Errorf("%w: journal record %d missing (the journal holds %d)", ErrCorrupt, last+1, n)
			case len(ins) > 0 && last > n:
				err = fmt.Errorf("%w: journal record %d beyond the journal's sequence %d", ErrCorrupt, last, n)
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, in := range ins {
			if err := fn(in); err != nil {
				return err
			}
		}
		if len(ins) < page {
			return nil
		}
		after = ins[len(ins)-1].Seq
	}
}

// journalStream is one member's inputs in a per-member journal, in the
// member's order; member "" holds the inputs that name none, in time
// order.
type journalStream struct {
	member string
	ins    []Input
}

// mergeJournal reads the per-member journal of st, pages of up to page
// records per read-only transaction, and merges it into one order: the
// input with the earliest time among the members' next ones comes next,
// so each member's inputs keep their own order (the order their
// transactions committed) even when their times do not; at equal times a
// member's input comes before one that names no member, and members come
// in the order of their IDs. The inputs are numbered 1, 2, … in that
// order. It holds the whole journal in memory.
//
// The merged order is not the order the source committed inputs of
// different members in: two members' inputs made at the same time, or
// whose times are out of step with their commits, may run the other way
// round. Where that order mattered (two members competing for the last
// coupons of a stock, an Advance that ran before a member's event dated at
// or before its time), a replay returns ErrReplayDiverged when an input is
// refused, a page performs another number of items or another digest
// (the event's points expired by the Advance's page, one expiry either
// way but another amount), an event or request posts or publishes
// something else (another digest: a late event that gives back a tag the
// page took on the source finds it still held) or random bytes differ.
func mergeJournal(ctx context.Context, st store.Store, page int) ([]Input, error) {
	var streams []*journalStream
	var start, next []byte
	for {
		n := 0
		err := st.View(ctx, func(tx store.Tx) error {
			n = 0
			return tx.Scan(bJournal, start, nil, false, func(k, v []byte) error {
				member, ok := journalMember(k)
				if !ok {
					return fmt.Errorf("%w: journal key %x", ErrCorrupt, k)
				}
				in, err := decodeInput(0, v)
				if err != nil {
					return fmt.Errorf("member %q: %w", member, err)
				}
				if len(streams) == 0 || streams[len(streams)-1].member != member {
					streams = append(streams, &journalStream{member: member})
				}
				s := streams[len(streams)-1]
				s.ins = append(s.ins, in)
				n++
				next = append(append(next[:0], k...), 0) // the next key after k
				if n == page {
					return store.StopScan
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
		if n < page {
			break
		}
		start, next = next, start
	}
	total := 0
	for _, s := range streams {
		total += len(s.ins)
	}
	h := journalHeap(streams)
	heap.Init(&h)
	out := make([]Input, 0, total)
	for h.Len() > 0 {
		s := h[0]
		in := s.ins[0]
		in.Seq = uint64(len(out)) + 1
		out = append(out, in)
		if s.ins = s.ins[1:]; len(s.ins) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return out, nil
}

// journalMember returns the member of a per-member journal key, and
// whether the key has the layout of one.
func journalMember(k []byte) (string, bool) {
	i := bytes.IndexByte(k, keys.Sep)
	if i < 0 {
		return "", false
	}
	if i == 0 {
		return "", len(k) == 1+8+1+8+8
	}
	return string(k[:i]), len(k) == i+1+8
}

// journalHeap orders the streams of a per-member journal by their next
// input (see mergeJournal).
type journalHeap []*journalStream

func (h journalHeap) Len() int      { return len(h) }
func (h journalHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h journalHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if c := a.ins[0].At.Compare(b.ins[0].At); c != 0 {
		return c < 0
	}
	if (a.member == "") != (b.member == "") {
		return b.member == ""
	}
	return a.member < b.member
}
func (h *journalHeap) Push(x any) { *h = append(*h, x.(*journalStream)) }
func (h *journalHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// JournalLength returns the sequence number of the last journal record of
// st (0: none); for a per-member journal (a store.Striper's), how many
// records it holds.
func JournalLength(ctx context.Context, st store.Store) (uint64, error) {
	var n uint64
	if _, ok := st.(store.Striper); ok {
		err := st.View(ctx, func(tx store.Tx) error {
			return tx.Scan(bJournal, nil, nil, false, func(_, _ []byte) error {
				n++
				return nil
			})
		})
		return n, err
	}
	err := st.View(ctx, func(tx store.Tx) (err error) {
		n, err = journalSeq(tx)
		return err
	})
	return n, err
}

// journalSeq returns the sequence number of the last record of a global
// journal (0: none).
func journalSeq(tx store.Tx) (uint64, error) {
	v, err := tx.Get(bMeta, journalSeqKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("%w: journal sequence", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// DefinitionRecord returns the definition record of st (its version and
// the SHA-256 of its JSON; nil when none is installed), and the engine's
// own: a replay runs only under the definition the source ran. A record
// of another length than Install writes wraps ErrCorrupt: it is damage,
// not another definition.
func DefinitionRecord(ctx context.Context, st store.Store) ([]byte, error) {
	var rec []byte
	err := st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(bMeta, defKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case len(v) != len(definition{}.record):
			return fmt.Errorf("%w: definition record", ErrCorrupt)
		}
		rec = append([]byte(nil), v...)
		return nil
	})
	return rec, err
}

// Definition returns the engine's definition record (see
// DefinitionRecord).
func (e *Engine) Definition() []byte { return append([]byte(nil), e.def.record[:]...) }

// replayRand hands out, in order, the random bytes the source's inputs
// drew; then, when more is set (ReplayingChanged), more's bytes. dup is
// set when a request was answered from its record (Duplicate) while it
// ran: the journal keeps only requests that were applied, so the target
// held it already. done is what the inputs that ran did (Replayed).
type replayRand struct {
	b    []byte
	more io.Reader
	dup  atomic.Bool
	done Replayed
}

// Replayed is what the inputs of a replay's step did on the target: the
// digest of each event (by ID), and of the request or update, that
// committed, as its journal record keeps it on the source (Input.Digest).
// A unit run again (a transaction retried) notes it again over the first.
type Replayed struct {
	events map[string]uint64
	other  uint64
	ran    bool // a request or update ran
}

// Digest returns the digest of what in, an event, request or update, did
// on the target, and false when it committed nothing there.
func (d Replayed) Digest(in Input) (uint64, bool) {
	if in.Kind == InputEvent {
		v, ok := d.events[in.Event.ID]
		return v, ok
	}
	return d.other, d.ran
}

// did notes what in, an input of the replay's step, did.
func (r *replayRand) did(in Input) {
	switch in.Kind {
	case InputEvent:
		if r.done.events == nil {
			r.done.events = make(map[string]uint64)
		}
		r.done.events[in.Event.ID] = in.Digest
	case InputRequest, InputUpdate:
		r.done.other, r.done.ran = in.Digest, true
	}
}

// replayedDuplicate notes, during a replay, that a request was answered
// as a duplicate (see replayRand.dup).
func (e *Engine) replayedDuplicate() {
	if r := e.jr.replay.Load(); r != nil {
		r.dup.Store(true)
	}
}

func (r *replayRand) Read(p []byte) (int, error) {
	if r.more != nil && len(r.b) < len(p) {
		n := copy(p, r.b)
		r.b = r.b[n:]
		m, err := io.ReadFull(r.more, p[n:])
		return n + m, err
	}
	if len(r.b) < len(p) {
		return 0, fmt.Errorf("%w: the input draws more random bytes than it drew on the source", ErrReplayDiverged)
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// Replaying makes the engine's units draw the given random bytes, in
// order, instead of its source, until done is called; done returns what
// the events, requests and updates that ran meanwhile did (Replayed), and
// an error wrapping ErrReplayDiverged when bytes are left, or when a
// request was answered from its record (Duplicate: applied before, so it
// applied nothing now). Only one replay may run at a time, and nothing
// else may use the engine meanwhile.
func (e *Engine) Replaying(rnd []byte) (done func() (Replayed, error)) {
	r := &replayRand{b: rnd}
	e.jr.replay.Store(r)
	return func() (Replayed, error) {
		e.jr.replay.Store(nil)
		if r.dup.Load() {
			return r.done, fmt.Errorf("%w: the request was applied before (answered as a duplicate)", ErrReplayDiverged)
		}
		if len(r.b) > 0 {
			return r.done, fmt.Errorf("%w: %d random bytes the source drew were not drawn", ErrReplayDiverged, len(r.b))
		}
		return r.done, nil
	}
}

// AdvancePage performs one page of the due work up to now, as one page of
// Advance does, and returns how many items it performed (0: none were
// due, and the watermark moved to now) and the digest of what they did
// (pageDigest; 0 for none). A replay runs the journal's InputAdvance
// records with it, page for page.
func (e *Engine) AdvancePage(ctx context.Context, now time.Time) (int, uint64, error) {
	n, d, err := e.advancePage(ctx, now)
	if err == nil && n == 0 {
		err = e.sequence(ctx)
	}
	return n, d, err
}

// ReplayingChanged is Replaying for a replay under another definition
// than the source's: the units draw the given bytes first and then the
// engine's own source (a coupon the source never issued draws bytes it
// never drew), and bytes left over are no error. Only one replay may run
// at a time, and nothing else may use the engine meanwhile.
func (e *Engine) ReplayingChanged(rnd []byte) (done func()) {
	e.jr.replay.Store(&replayRand{b: rnd, more: e.rand})
	return func() { e.jr.replay.Store(nil) }
}

// Used reports whether st holds anything a program wrote: a journal, a
// watermark, an event, an operator request or a per-member journal
// record (a replay starts on a store that holds none).
func Used(ctx context.Context, st store.Store) (bool, error) {
	used := false
	err := st.View(ctx, func(tx store.Tx) error {
		for _, k := range [][]byte{journalSeqKey, watermarkKey} {
			if _, err := tx.Get(bMeta, k); err == nil {
				used = true
				return nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		for _, b := range []string{bEvents, bOps, bJournal} {
			err := tx.Scan(b, nil, nil, false, func(_, _ []byte) error {
				used = true
				return store.StopScan
			})
			if err != nil || used {
				return err
			}
		}
		return nil
	})
	return used, err
}
