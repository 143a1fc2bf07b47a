package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

// The audit trail keeps one entry per operator request that Apply (or an
// Update naming a request) ran: accepted, in the request's own
// transaction; refused by the call (a business rejection, or the request
// ID reused for another request), in a transaction of its own after the
// refusal. A retry that Apply answers from the idempotency record is not
// recorded again. Calls refused before they reach the engine (a malformed
// request) and failures of the store (a closed store, a cancelled
// context, a corrupt record, a superseded definition) leave no entry.
//
// An entry is written under three keys, each time-ordered and ending with
// the request ID and the result, so that operator calls write no shared
// key (no counter): by time, by member (when the call names one) and by
// operator (when one asked). The entry itself is stored under the time
// key; the member and operator keys, the time key after the member's or
// the operator's ID, hold no value (an import writes an entry per member,
// and three copies were a sixth of what it wrote); entries written
// before hold a copy there, still read. A refused request retried at the
// same time and refused again replaces its entry (the latest error is
// kept); one later accepted gets an entry of its own beside it.
const (
	bAuditTime     = "audit.time"     // time, request ID, result → entry
	bAuditMember   = "audit.member"   // member, time, request ID, result → entry
	bAuditOperator = "audit.operator" // operator, time, request ID, result → entry
)

// Audit results.
const (
	AuditAccepted = "accepted"
	AuditRefused  = "refused"
)

// AuditEntry is one operator request in the audit trail.
type AuditEntry struct {
	// Time is the request's time (its At).
	Time time.Time `json:"time"`
	// Operator asked for Action ("points.adjust"; "" for a member's own
	// call) about Member: the member the call names, or the member of the
	// object it names (Request.Owner); "" for none.
	Operator string `json:"operator,omitempty"`
	Action   string `json:"action"`
	Member   string `json:"member,omitempty"`
	// Request is the request ID.
	Request string `json:"request"`
	// Result is AuditAccepted or AuditRefused; Error is the refusal.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// AppendJSON appends a's JSON to b, as json.Marshal writes it: every
// operator request (every imported member) writes an entry, so it skips
// reflection.
func (a *AuditEntry) AppendJSON(b []byte) []byte {
	o := JSONObject{B: append(b, '{')}
	o.Time("time", a.Time, false)
	o.Str("operator", a.Operator, true)
	o.Str("action", a.Action, false)
	o.Str("member", a.Member, true)
	o.Str("request", a.Request, false)
	o.Str("result", a.Result, false)
	o.Str("error", a.Error, true)
	return append(o.B, '}')
}

// AuditQuery selects audit entries: those of Operator and of Member when
// set, with From <= Time < To (zero: open), in time order, a page of
// Limit (event.PageSize: default 50, at most 1,000) after the cursor After (a page's
// Next).
type AuditQuery struct {
	Operator string
	Member   string
	From, To time.Time
	After    string
	Limit    int
}

// AuditPage is one page of audit entries; Next is the cursor of the
// following page, empty at the end.
type AuditPage struct {
	Entries []AuditEntry
	Next    string
}

// ErrBadCursor is wrapped (with event.ErrInvalidArgument) for an audit
// cursor that is not one of the query's.
var ErrBadCursor = errors.New("bad cursor")

func auditResult(refused bool) string {
	if refused {
		return AuditRefused
	}
	return AuditAccepted
}

// audit writes the entry of req, about member, in tx: accepted when why is
// nil, refused with why otherwise.
func (e *Engine) audit(tx store.Tx, req Request, member string, why error) error {
	ent := AuditEntry{Time: req.At.UTC(), Operator: req.Operator, Action: req.Action, Member: member, Request: req.ID, Result: auditResult(why != nil)}
	if why != nil {
		ent.Error = why.Error()
	}
	v := ent.AppendJSON(make([]byte, 0, 192))
	tail := keys.New().Time(req.At).Str(req.ID).Str(ent.Result)
	if err := tx.Put(bAuditTime, tail, v); err != nil {
		return err
	}
	if member != "" {
		if err := tx.Put(bAuditMember, append(keys.New().Str(member), tail...), []byte{}); err != nil {
			return err
		}
	}
	if req.Operator != "" {
		if err := tx.Put(bAuditOperator, append(keys.New().Str(req.Operator), tail...), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// auditRefusal records req as refused with err in a transaction of its
// own and returns err; when that fails too, both errors. A refusal about
// no member is filed under the member of the object req names
// (Request.Owner), when it exists.
func (e *Engine) auditRefusal(ctx context.Context, req Request, member string, err error) error {
	werr := e.st.Update(ctx, func(tx store.Tx) error {
		if err := e.checkDefinition(tx); err != nil {
			return err
		}
		if member == "" && req.Owner != nil {
			owner, oerr := req.Owner(tx)
			if oerr != nil {
				return oerr
			}
			return e.audit(tx, req, owner, err)
		}
		return e.audit(tx, req, member, err)
	})
	if werr != nil {
		return errors.Join(err, fmt.Errorf("audit of the refusal: %w", werr))
	}
	return err
}

// eraseAuditQuotes replaces the text of each quoted string in the errors
// of member's refused entries with "…" (redactQuoted). A refusal's error
// may quote what the caller sent, a tag or a program no definition
// declares say, which an operator may have filled with the member's
// personal data; the entry keeps its operator, action, member, request,
// time, result and the words of the error. Entries written before the
// member's key held no value have a copy under the member's and the
// operator's keys too, rewritten alike.
func eraseAuditQuotes(tx store.Tx, member string) error {
	prefix := keys.New().Str(member)
	var ks, vs [][]byte
	err := tx.Scan(bAuditMember, prefix, store.PrefixEnd(prefix), false, func(k, v []byte) error {
		ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return err
	}
	// rewrite redacts the entry v stored under key of bucket.
	rewrite := func(bucket string, key, v []byte) (AuditEntry, error) {
		var ent AuditEntry
		if err := json.Unmarshal(v, &ent); err != nil {
			return ent, fmt.Errorf("%w: audit entry %x: %v", ErrCorrupt, key, err)
		}
		if ent.Result != AuditRefused || ent.Error == "" {
			return ent, nil
		}
		ent.Error = redactQuoted(ent.Error)
		return ent, tx.Put(bucket, key, ent.AppendJSON(nil))
	}
	for i, k := range ks {
		tail := k[len(prefix):]
		v, err := tx.Get(bAuditTime, tail)
		if err != nil {
			return missing(err, fmt.Sprintf("audit entry %x", k))
		}
		ent, err := rewrite(bAuditTime, tail, v)
		if err != nil {
			return err
		}
		if ent.Result != AuditRefused {
			continue
		}
		if len(vs[i]) > 0 {
			if _, err := rewrite(bAuditMember, k, vs[i]); err != nil {
				return err
			}
		}
		if ent.Operator == "" {
			continue
		}
		ok := append(keys.New().Str(ent.Operator), tail...)
		switch v, err := tx.Get(bAuditOperator, ok); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case len(v) > 0:
			if _, err := rewrite(bAuditOperator, ok, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// missing returns the error of a read of a record another one names (an
// index entry's, a request record's): ErrCorrupt when the record is not
// there (store.ErrNotFound), the store's own failure as it is otherwise
// (a lost connection is no damage). what names the record.
func missing(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// redactQuoted returns s with the text of each double-quoted string in it,
// as %q writes one (escapes included), replaced by "…"; an unterminated
// one loses the rest of s.
func redactQuoted(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
		j := 0
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++ // the escaped byte
			}
			j++
		}
		if j >= len(s) {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(`…"`)
		s = s[j+1:]
	}
}

// IsRefusal reports whether err, returned by a unit of work (an event's,
// a request's), is the input's answer (a business rejection) rather than
// a failure of the store (closed, damaged, failing to write or to reach
// its server, giving up after conflicts, misused), of a record the engine reads, of the caller's context, or the
// program's definition being superseded. The audit trail records only
// refusals, and a replay under a changed definition (Program.ReplayWith)
// goes on only past them.
func IsRefusal(err error) bool {
	for _, f := range []error{context.Canceled, context.DeadlineExceeded, store.ErrClosed, store.ErrConflict,
		store.ErrCorrupt, store.ErrFailed, store.ErrTxDone, store.ErrReadOnly, store.ErrInvalid, ErrDefinitionSuperseded} {
		if errors.Is(err, f) {
			return false
		}
	}
	return true
}

// Audit returns a page of the audit trail (see AuditQuery). A bad cursor,
// a time out of range, a To before From or a negative limit wraps
// event.ErrInvalidArgument; a damaged entry ErrCorrupt.
func (e *Engine) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	limit, err := event.PageSize(q.Limit, 50, 1000)
	if err != nil {
		return AuditPage{}, err
	}
	q.Limit = limit
	for _, t := range []time.Time{q.From, q.To} {
		if !t.IsZero() && !keys.InRange(t) {
			return AuditPage{}, fmt.Errorf("%w: time %s out of range", event.ErrInvalidArgument, t)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return AuditPage{}, fmt.Errorf("%w: to: %s is before from %s", event.ErrInvalidArgument, q.To, q.From)
	}
	bucket, prefix := bAuditTime, []byte{}
	switch {
	case q.Member != "":
		bucket, prefix = bAuditMember, keys.New().Str(q.Member)
	case q.Operator != "":
		bucket, prefix = bAuditOperator, keys.New().Str(q.Operator)
	}
	start, end := prefix, store.PrefixEnd(prefix)
	if len(prefix) == 0 {
		start = nil
	}
	if !q.From.IsZero() {
		start = append(append([]byte{}, prefix...), keys.New().Time(q.From)...)
	}
	if !q.To.IsZero() {
		end = append(append([]byte{}, prefix...), keys.New().Time(q.To)...)
	}
	if q.After != "" {
		c, err := hex.DecodeString(q.After)
		if err != nil || !bytes.HasPrefix(c, prefix) || len(c) <= len(prefix) {
			return AuditPage{}, fmt.Errorf("%w: %w %q", event.ErrInvalidArgument, ErrBadCursor, q.After)
		}
		if after := append(c, 0); bytes.Compare(after, start) > 0 {
			start = after // just after the cursor
		}
	}
	var page AuditPage
	err = e.st.View(ctx, func(tx store.Tx) error {
		var last []byte
		for from, more := start, true; more; {
			// A chunk of keys is read first and the entries after the
			// scan, which must not be interleaved with other reads on a
			// store whose scan streams from a server.
			var ks, vs [][]byte
			more = false
			err := tx.Scan(bucket, from, end, false, func(k, v []byte) error {
				if len(ks) == q.Limit+1 {
					from, more = bytes.Clone(k), true
					return store.StopScan
				}
				ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
				return nil
			})
			if err != nil {
				return err
			}
			for i, k := range ks {
				v := vs[i]
				if len(v) == 0 && bucket != bAuditTime {
					// A member's or an operator's key: the entry is
					// under the time key, the rest of this one.
					if v, err = tx.Get(bAuditTime, k[len(prefix):]); err != nil {
						return missing(err, fmt.Sprintf("audit entry %x", k))
					}
				}
				var ent AuditEntry
				if err := json.Unmarshal(v, &ent); err != nil {
					return fmt.Errorf("%w: audit entry %x: %v", ErrCorrupt, k, err)
				}
				if ent.Result != AuditAccepted && ent.Result != AuditRefused {
					return fmt.Errorf("%w: audit entry %x: result %q", ErrCorrupt, k, ent.Result)
				}
				if q.Operator != "" && ent.Operator != q.Operator {
					continue
				}
				if len(page.Entries) == q.Limit {
					page.Next = hex.EncodeToString(last)
					return nil
				}
				ent.Time = ent.Time.In(e.loc)
				page.Entries = append(page.Entries, ent)
				last = k
			}
		}
		return nil
	})
	if err != nil {
		return AuditPage{}, err
	}
	return page, nil
}
