package event

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// The limits on what a program takes from outside. They are the same on
// every store, and every store holds what they allow: an ID or a string
// goes into store keys, whose size each store bounds (bbolt: 32 KiB;
// PostgreSQL: about 2.7 KiB for an indexed key), and a time is stored as
// nanoseconds since 1970 in 64 bits (the years 1678 to 2261).
//
//   - IDs (event IDs, member IDs, request IDs): 1 to MaxIDBytes bytes.
//   - Every other string (an event's string attributes and each item of a
//     list; the names, codes, notes, order IDs and operators of operator
//     requests and of the queries that take a struct; a feed consumer):
//     at most MaxTextBytes bytes. A query that takes a member checks it as
//     an ID.
//   - IDs and strings are valid UTF-8 without a NUL byte (keys separate
//     their parts with NUL; the records that go through JSON would
//     otherwise replace invalid bytes, and two IDs would become one).
//   - A list attribute has at most MaxListItems items.
//   - A decimal attribute has at most MaxDecimalDigits significant
//     digits, and at most MaxDecimalDigits digits before and after the
//     point.
//   - Times (event times, time attributes, the At of requests and of
//     queries, Advance's now, the dates and windows of a definition) are
//     from MinYear-01-01 00:00 UTC up to, not including, (MaxYear+1)-01-01
//     00:00 UTC. What a program derives from them must stay within what
//     the store holds: an expiry or a term end is at most a hundred years
//     later (the longest validity), which is why the range ends in 2099;
//     an event or a request whose derived time would still not fit (a
//     plan renewed from its expiry again and again, a coupon hold of
//     centuries) is refused.
//
// An event beyond a limit is refused with an error wrapping
// ErrInvalidEvent, a request or a query with one wrapping
// ErrInvalidArgument; both also wrap ErrTooLarge, ErrInvalidText or
// ErrTimeRange and name the field.
const (
	MaxIDBytes       = 256
	MaxTextBytes     = 1024
	MaxListItems     = 256
	MaxDecimalDigits = 40
	MinYear          = 1900
	MaxYear          = 2099
)

// Errors of the limits, wrapped with ErrInvalidEvent or ErrInvalidArgument.
var (
	// ErrTooLarge is returned for an ID, a string, a list or a decimal
	// beyond its limit.
	ErrTooLarge = errors.New("beyond the program's size limit")
	// ErrInvalidText is returned for an ID or a string that is not valid
	// UTF-8 or that contains a NUL byte.
	ErrInvalidText = errors.New("not valid UTF-8 or contains a NUL byte")
	// ErrTimeRange is returned for a time outside the years MinYear to
	// MaxYear, or for a time derived from it that the store cannot hold.
	ErrTimeRange = errors.New("time outside of the supported range")
	// ErrTooOld is returned for an event or a request whose time is
	// before the program's retention horizon: its record, if it was ever
	// processed, may have been pruned, so it can be told from a retry no
	// longer (see membership.Retention).
	ErrTooOld = errors.New("older than the idempotency window")
)

var (
	minTime = time.Date(MinYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(MaxYear+1, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// CheckID checks an ID (an event, member or request ID) against the
// limits: not empty, at most MaxIDBytes bytes, valid UTF-8 without NUL.
// The error wraps ErrTooLarge or ErrInvalidText, or for an empty ID
// ErrInvalidArgument.
func CheckID(id string) error {
	switch {
	case id == "":
		return errEmpty{}
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(id), MaxIDBytes)
	}
	return checkUTF8(id)
}

// errEmpty is CheckID's error for an empty ID. It wraps
// ErrInvalidArgument, as no limit's sentinel fits, yet reads "empty" alone:
// its callers wrap ErrInvalidArgument too, after the field they name
// ("member: empty").
type errEmpty struct{}

func (errEmpty) Error() string { return "empty" }
func (errEmpty) Unwrap() error { return ErrInvalidArgument }

// CheckText checks a string other than an ID: at most MaxTextBytes bytes,
// valid UTF-8 without NUL. The error wraps ErrTooLarge or ErrInvalidText.
func CheckText(s string) error {
	if len(s) > MaxTextBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(s), MaxTextBytes)
	}
	return checkUTF8(s)
}

func checkUTF8(s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return ErrInvalidText
	}
	return nil
}

// CheckTime checks that t is in the years MinYear to MaxYear (UTC). The
// error wraps ErrTimeRange.
func CheckTime(t time.Time) error {
	if t.Before(minTime) || !t.Before(maxTime) {
		return fmt.Errorf("%w: %s is not from %d-01-01 to %d-12-31", ErrTimeRange, formatTime(t), MinYear, MaxYear)
	}
	return nil
}

// formatTime formats t even where RFC 3339 has no room for its year.
func formatTime(t time.Time) string {
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("year %d", y)
	}
	return t.Format(time.RFC3339Nano)
}

// CheckDecimal checks a decimal against the limits: at most
// MaxDecimalDigits significant digits, and as many before and after the
// point. The error wraps ErrTooLarge.
func CheckDecimal(d decimal.Decimal) error {
	n, e := d.NumDigits(), int(d.Exponent())
	if n > MaxDecimalDigits || n+e > MaxDecimalDigits || -e > MaxDecimalDigits {
		return fmt.Errorf("%w: a decimal of %d digits with exponent %d, at most %d digits before and after the point", ErrTooLarge, n, e, MaxDecimalDigits)
	}
	return nil
}

// CheckValue checks an attribute value against the limits of its kind;
// the error wraps ErrTooLarge, ErrInvalidText or ErrTimeRange.
func CheckValue(v Value) error {
	switch v.Kind {
	case String:
		return CheckText(v.Str)
	case Decimal:
		return CheckDecimal(v.Dec)
	case Time:
		if v.Time.IsZero() {
			return nil
		}
		return CheckTime(v.Time)
	case Strings:
		if len(v.Strings) > MaxListItems {
			return fmt.Errorf("%w: %d items, at most %d", ErrTooLarge, len(v.Strings), MaxListItems)
		}
		for i, s := range v.Strings {
			if err := CheckText(s); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// checkLimits checks an event's ID, member and time against the limits
// (Type.Check checks each declared attribute's value as it reads it); each
// error names its field.
func checkLimits(e Event) []error {
	var errs []error
	if e.ID != "" {
		if err := CheckID(e.ID); err != nil {
			errs = append(errs, fmt.Errorf("id: %w", err))
		}
	}
	if e.Member != "" {
		if err := CheckID(e.Member); err != nil {
			errs = append(errs, fmt.Errorf("member: %w", err))
		}
	}
	if !e.Time.IsZero() {
		if err := CheckTime(e.Time); err != nil {
			errs = append(errs, fmt.Errorf("time: %w", err))
		}
	}
	return errs
}

// CheckMember checks a member ID a query or a request takes; the error
// wraps ErrInvalidArgument and ErrTooLarge or ErrInvalidText.
func CheckMember(member string) error {
	if err := CheckID(member); err != nil {
		return fmt.Errorf("%w: member: %w", ErrInvalidArgument, err)
	}
	return nil
}

// CheckQuery checks the member and the time a query takes (a zero at is
// not checked); the error wraps ErrInvalidArgument and names the field.
func CheckQuery(member string, at time.Time) error {
	if err := CheckMember(member); err != nil {
		return err
	}
	if !at.IsZero() {
		if err := CheckTime(at); err != nil {
			return fmt.Errorf("%w: at: %w", ErrInvalidArgument, err)
		}
	}
	return nil
}

// PageSize returns the page size a paged query's limit asks for. Every
// paged query of the library (a feed, the audit trail, a statement, a
// segment, a history) follows one rule: a limit of 0 means the query's
// default page size def; a limit above the query's maximum max is
// clamped to it, so a page holds at most max items and the query's cursor
// continues from there; a negative limit is refused with an error
// wrapping ErrInvalidArgument and naming the field "limit".
func PageSize(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: limit: %d is negative (0 means the default, %d)", ErrInvalidArgument, limit, def)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// CheckRequest checks every string and time of a request or a query (a
// struct, a pointer to one, or a string) against the limits: the fields
// Member and RequestID, when not empty, as CheckID, other strings as
// CheckText, times (but zero ones) as CheckTime, through nested structs,
// pointers, slices and maps. The errors name each field by its JSON name
// and wrap ErrInvalidArgument.
func CheckRequest(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Struct {
		// An addressable copy: its times and values are then read through
		// pointers, which costs no allocation each.
		c := reflect.New(rv.Type()).Elem()
		c.Set(rv)
		rv = c
	}
	var w walker
	w.path = w.buf[:0]
	w.check(rv)
	if err := errors.Join(w.errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// CheckTexts checks every string of v (a definition: its names, IDs and
// texts) as CheckText, through nested structs, pointers, slices and maps,
// the strings of event values included; its times and decimals are not
// its business. The error joins one error per string beyond the limits,
// each naming its path by JSON names; nil when all keep to them.
func CheckTexts(v any) error {
	w := walker{textsOnly: true}
	w.path = w.buf[:0]
	w.check(reflect.ValueOf(v))
	return errors.Join(w.errs...)
}

// idFields are the fields CheckRequest checks as IDs, by their Go name.
var idFields = map[string]bool{"Member": true, "RequestID": true}

var (
	timeType    = reflect.TypeFor[time.Time]()
	decimalType = reflect.TypeFor[decimal.Decimal]()
	valueType   = reflect.TypeFor[Value]()
)

// walker walks a request for CheckRequest. It keeps the path to the
// current value as segments and formats it only for an error.
type walker struct {
	textsOnly bool // CheckTexts: strings only
	path      []segment
	buf       [8]segment
	errs      []error
}

// segment is a field or map key (name), or an index (index >= 0).
type segment struct {
	name  string
	index int
}

func (w *walker) push(s segment) { w.path = append(w.path, s) }
func (w *walker) pop()           { w.path = w.path[:len(w.path)-1] }

func (w *walker) fail(err error) {
	var b strings.Builder
	for _, s := range w.path {
		switch {
		case s.index >= 0:
			fmt.Fprintf(&b, "[%d]", s.index)
		case b.Len() > 0:
			b.WriteString("." + s.name)
		default:
			b.WriteString(s.name)
		}
	}
	if b.Len() == 0 {
		w.errs = append(w.errs, err)
		return
	}
	w.errs = append(w.errs, fmt.Errorf("%s: %w", b.String(), err))
}

func (w *walker) check(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if err := CheckText(v.String()); err != nil {
			w.fail(err)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.check(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.push(segment{index: i})
			w.check(v.Index(i))
			w.pop()
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := ""
			if k.Kind() == reflect.String {
				name = k.String()
				if err := CheckText(name); err != nil {
					w.fail(fmt.Errorf("key: %w", err))
					continue
				}
			} else {
				name = fmt.Sprint(k.Interface())
			}
			w.push(segment{name: name, index: -1})
			w.check(iter.Value())
			w.pop()
		}
	case reflect.Struct:
		w.checkStruct(v)
	}
}

func (w *walker) checkStruct(v reflect.Value) {
	switch v.Type() {
	case timeType:
		if w.textsOnly {
			return
		}
		var t time.Time
		if v.CanAddr() {
			t = *v.Addr().Interface().(*time.Time)
		} else {
			t = v.Interface().(time.Time)
		}
		if !t.IsZero() {
			if err := CheckTime(t); err != nil {
				w.fail(err)
			}
		}
		return
	case decimalType:
		return
	case valueType:
		var x Value
		if v.CanAddr() {
			x = *v.Addr().Interface().(*Value)
		} else {
			x = v.Interface().(Value)
		}
		if w.textsOnly {
			for _, s := range append([]string{x.Str}, x.Strings...) {
				if err := CheckText(s); err != nil {
					w.fail(err)
				}
			}
			return
		}
		if err := CheckValue(x); err != nil {
			w.fail(err)
		}
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
			continue
		case name == "":
			name = f.Name
		}
		fv := v.Field(i)
		switch {
		case f.Anonymous && f.Type.Kind() == reflect.Struct && tag == "":
			w.checkStruct(fv)
		case idFields[f.Name] && fv.Kind() == reflect.String:
			// Empty is for the call to refuse or allow.
			if id := fv.String(); id != "" {
				if err := CheckID(id); err != nil {
					w.push(segment{name: name, index: -1})
					w.fail(err)
					w.pop()
				}
			}
		default:
			w.push(segment{name: name, index: -1})
			w.check(fv)
			w.pop()
		}
	}
}
