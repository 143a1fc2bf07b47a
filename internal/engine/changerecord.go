package engine

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/rule"
)

// Changes are stored in the feed in a compact binary form: every event
// writes them, so they skip JSON's quoting, escaping and time formatting;
// only the payload (Data) is JSON, as the outcome hands it out. The first
// byte is a version.
const changeV1 = 1

// Flags of a stored change's reason.
const (
	reasonSet = 1 << iota
	reasonRaw
	reasonCut
)

// appendRecord appends c's feed form to b. The payload is what enc
// appends when it is not nil (encoded in place), else c.Data; b[d0:d1]
// holds it.
func appendChange(b []byte, c *change.Change, enc func([]byte) ([]byte, error)) (out []byte, d0, d1 int, err error) {
	w := codec.Writer{B: append(b, changeV1)}
	w.Uint(c.Seq)
	w.String(c.Kind)
	w.String(c.Member)
	w.Time(c.Time)
	w.String(c.Event)
	appendReasonRecord(&w, c.Reason)
	// The payload comes last and runs to the end of the change, so it
	// needs no length and is written where it stays.
	d0 = len(w.B)
	if enc != nil {
		if w.B, err = enc(w.B); err != nil {
			return b, 0, 0, err
		}
	} else {
		w.B = append(w.B, c.Data...)
	}
	return w.B, d0, len(w.B), nil
}

func appendReasonRecord(w *codec.Writer, r *rule.Reason) {
	if r == nil {
		w.B = append(w.B, 0)
		return
	}
	flags := byte(reasonSet)
	if !r.Raw.IsZero() {
		flags |= reasonRaw
	}
	if r.Cut != nil {
		flags |= reasonCut
	}
	w.B = append(w.B, flags)
	w.String(r.Rule)
	w.String(r.Formula)
	w.Uint(uint64(len(r.Inputs)))
	for k, v := range r.Inputs {
		w.String(k)
		w.String(v)
	}
	if flags&reasonRaw != 0 {
		w.Decimal(r.Raw)
	}
	if c := r.Cut; c != nil {
		w.String(string(c.Period))
		w.Decimal(c.Limit)
		w.Decimal(c.Used)
		w.Decimal(c.Wanted)
		w.Decimal(c.Granted)
	}
	w.String(r.Note)
}

// changeMember returns the member of a stored change, without decoding
// the rest.
func changeMember(b []byte) (string, error) {
	if len(b) == 0 || b[0] != changeV1 {
		return "", fmt.Errorf("%w: change record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	r.Uint()       // the change's number in its unit
	_ = r.String() // its kind
	m := r.String()
	if err := r.Err(); err != nil {
		return "", fmt.Errorf("%w: change record: %v", ErrCorrupt, err)
	}
	return m, nil
}

// changeTime returns the time of a stored change, without decoding the
// rest: retention reads it for every feed record it keeps, at each pass,
// and decoding whole changes (their reasons' strings and maps) took a
// third of the CPU of building a million members' year.
func changeTime(b []byte) (time.Time, error) {
	if len(b) == 0 || b[0] != changeV1 {
		return time.Time{}, fmt.Errorf("%w: change record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	r.Uint()       // the change's number in its unit
	r.SkipString() // its kind
	r.SkipString() // its member
	at := r.Time()
	if err := r.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: change record: %v", ErrCorrupt, err)
	}
	return at, nil
}

// decodeChange reads a change as stored in the feed; its Data is a copy.
func decodeChange(b []byte) (change.Change, error) {
	if len(b) == 0 || b[0] != changeV1 {
		return change.Change{}, fmt.Errorf("%w: change record version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	c := change.Change{Seq: r.Uint(), Kind: r.String(), Member: r.String(), Time: r.Time(), Event: r.String()}
	if r.Err() == nil && len(r.B) == 0 {
		return change.Change{}, fmt.Errorf("%w: change record: %v", ErrCorrupt, codec.ErrShort)
	}
	if r.Err() == nil {
		flags := r.B[0]
		r.B = r.B[1:]
		switch {
		case flags&reasonSet != 0 && flags&^(reasonSet|reasonRaw|reasonCut) == 0:
			var err error
			if c.Reason, err = decodeReasonRecord(&r, flags); err != nil {
				return change.Change{}, err
			}
		case flags != 0: // not written: the reason's bytes would read as the payload
			return change.Change{}, fmt.Errorf("%w: change record: reason flags %#x", ErrCorrupt, flags)
		}
	}
	if err := r.Err(); err != nil {
		return change.Change{}, fmt.Errorf("%w: change record: %v", ErrCorrupt, err)
	}
	if len(r.B) > 0 {
		c.Data = append([]byte(nil), r.B...)
	}
	return c, nil
}

// decodeReasonRecord reads a reason; an input named twice is damage
// (appendReasonRecord writes a map's inputs).
func decodeReasonRecord(r *codec.Reader, flags byte) (*rule.Reason, error) {
	why := &rule.Reason{Rule: r.String(), Formula: r.String()}
	if n := r.Count(2); n > 0 { // an input is two strings, a byte each at least
		why.Inputs = make(map[string]string, n)
		for range n {
			k := r.String()
			if _, twice := why.Inputs[k]; twice && r.Err() == nil {
				return nil, fmt.Errorf("%w: change record: reason input %q twice", ErrCorrupt, k)
			}
			why.Inputs[k] = r.String()
		}
	}
	if flags&reasonRaw != 0 {
		why.Raw = r.Decimal()
	}
	if flags&reasonCut != 0 {
		why.Cut = &rule.Cut{Period: rule.Period(r.String()), Limit: r.Decimal(), Used: r.Decimal(), Wanted: r.Decimal(), Granted: r.Decimal()}
	}
	why.Note = r.String()
	return why, nil
}
