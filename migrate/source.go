package migrate

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// CSV returns a source reading CSV (RFC 4180) from r. The first record is
// a header naming the columns, in any order; a column may be left out, a
// cell left empty. The columns:
//
//	request_id       the row's idempotency key (default "<name>:<line>")
//	member           the member's ID (required)
//	at               the opening time (default Options.At)
//	level, term_end  the level and its term end
//	growth, lifetime the current and lifetime growth
//	growth_days      the net growth earned per day: date|growth, ";" between
//	                 days ("2025-05-02|120;2025-05-20|-20"; see Member.GrowthDays)
//	gifted_levels    the levels whose upgrade gifts the member had, ";" between
//	                 them ("Silver;Gold"; see Member.GiftedLevels)
//	owed_gifts       upgrade gifts' rewards owed: level|reward, or
//	                 level|reward|place, ";" between them
//	                 ("Silver|coupon:silver-cash", "Silver|pack:tea|2"; see
//	                 Member.OwedGifts and OwedGift.Place)
//	plans            paid plans held: plan|expires|since, ";" between plans
//	                 ("Plus|2027-03-10T12:00:00+08:00"; see Plan)
//	points           spendable lots: program|amount|expires, ";" between lots
//	pending          pending lots: program|amount|expires|release
//	value_balance, value_recharged, value_spent, value_refunded,
//	value_withdrawn  the stored value's balance and cumulative recharge,
//	                 spend, refund and withdrawal (see Value)
//	coupons          coupons held: template|expires|code, ";" between coupons
//	achievements     achievements granted: achievement|at|source|by, ";"
//	                 between them ("gold-club|2026-03-05T10:00:00+08:00|level|Gold";
//	                 see Achievement)
//	tags             manual tags, ";" between them
//	profile.NAME     the profile attribute NAME, as text
//
// A growth day's date is a date only (YYYY-MM-DD, in the program's zone);
// an empty growth_days cell gives no days, so that the growth counts as
// earned on the row's day. An empty gifted_levels cell says that the
// member had no level's gifts; no column (a file from before it) counts
// the levels up to the member's, and those of the gifts owed, as gifted.
// An empty owed_gifts cell, or no column, owes none; a gift owed without
// its place (as a file from before it wrote them all) is placed by its
// order (OwedGift.Place), and a place is a whole number from 1 ("0",
// "+2", "" are bad). A plan's expires is required and its since may be
// left out (the row's time); an achievement may be its name alone, or
// name|at, granted at the row's time when at is empty and by the import's
// operator without source and by. An empty plans, achievements,
// value_refunded or value_withdrawn cell, or no column, gives none. An
// empty expires is no expiry (for a coupon: the template's validity); an
// empty code is none. A time is RFC 3339 ("2026-12-31T23:59:59+08:00")
// or a date ("2026-12-31") in loc (UTC if nil): the start of that day for
// at and release, and for an expires or a term_end its end, 24:00 (the
// next day's start), as the program's own validities end: a coupon that
// "expires 2026-12-31" is valid all that day. Where loc skips a midnight
// (America/Santiago), that day starts at its first instant (01:00). A
// byte order mark before the header is skipped, whether its first name is
// quoted or not. An unknown column, one
// named twice, or a header that does not parse fails the first Next (with
// ErrBadRow); so does a nil r, with an error wrapping ErrInvalidArgument.
// A malformed record (a stray quote) is a bad row, and the next records
// are read; but a record longer than MaxRecord, or a quoted field left
// open to the end of the file, fails Next with an error wrapping ErrBadRow
// that names its line, which stops the run: the rows after it cannot be
// read. Memory stays within a record's size.
func CSV(r io.Reader, loc *time.Location) Source {
	if r == nil {
		return nilReader("csv")
	}
	lr := &limitReader{r: skipBOM(r)}
	cr := csv.NewReader(lr)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	if loc == nil {
		loc = time.UTC
	}
	return &csvSource{r: cr, lr: lr, loc: loc, line: 1}
}

// skipBOM returns r without the UTF-8 byte order mark it may start with
// (spreadsheets and Windows tools write one): it is no part of the first
// column's name or of the first line, and before a quote encoding/csv
// would take it for a bare quote. It reads nothing before the first Read,
// and no more than it is asked for then (the mark's 3 bytes at least).
func skipBOM(r io.Reader) io.Reader { return &bomReader{r: r} }

type bomReader struct {
	r       io.Reader
	checked bool
	head    []byte // the first bytes read, when they are no mark
	err     error  // r's error on reading them
}

func (b *bomReader) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		head := make([]byte, len(bom))
		n, err := io.ReadFull(b.r, head)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF // fewer bytes than a mark: the whole input
		}
		if b.head, b.err = head[:n], err; string(b.head) == bom {
			b.head = nil
		}
	}
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

const bom = "\ufeff"

// MaxRecord is the most bytes a CSV record or a JSON line may take (1 MiB).
const MaxRecord = 1 << 20

// errTooLong is the error of a record longer than MaxRecord.
var errTooLong = fmt.Errorf("a record of more than %d bytes (a huge field, or a quote never closed)", MaxRecord)

// limitReader reads r, failing with errTooLong once more than MaxRecord
// bytes (and csv.Reader's buffer) are read past base, the end of the last
// record: a record is never read whole into memory past that.
type limitReader struct {
	r          io.Reader
	read, base int64
	eof        bool // r returned io.EOF
}

func (l *limitReader) Read(p []byte) (int, error) {
	room := l.base + MaxRecord + 64<<10 - l.read
	if room <= 0 {
		return 0, errTooLong
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	l.eof = l.eof || errors.Is(err, io.EOF)
	return n, err
}

type csvSource struct {
	r      *csv.Reader
	lr     *limitReader
	loc    *time.Location
	header []string
	line   int // the last line of the last record read
}

// atEOF reports whether the CSV reader has consumed all of the input.
func (s *csvSource) atEOF() bool { return s.lr.eof && s.r.InputOffset() == s.lr.read }

// read reads the next record, keeping the line it ends on.
func (s *csvSource) read() ([]string, error) {
	rec, err := s.r.Read()
	if err == nil {
		s.lr.base = s.r.InputOffset()
		s.line, _ = s.r.FieldPos(len(rec) - 1)
	}
	return rec, err
}

var csvColumns = map[string]bool{
	"request_id": true, "member": true, "at": true, "level": true, "term_end": true, "growth": true, "lifetime": true, "growth_days": true, "gifted_levels": true, "owed_gifts": true,
	"plans": true, "points": true, "pending": true, "value_balance": true, "value_recharged": true, "value_spent": true, "value_refunded": true, "value_withdrawn": true,
	"coupons": true, "achievements": true, "tags": true,
}

func (s *csvSource) Next() (Row, error) {
	if s.header == nil {
		h, err := s.read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) || errors.Is(err, errTooLong) {
				return Row{}, fmt.Errorf("%w: header: %w", ErrBadRow, err)
			}
			return Row{}, fmt.Errorf("header: %w", err)
		}
		seen := make(map[string]bool, len(h))
		for _, c := range h {
			if !csvColumns[c] && !strings.HasPrefix(c, "profile.") {
				return Row{}, fmt.Errorf("%w: header: unknown column %q", ErrBadRow, c)
			}
			if seen[c] {
				return Row{}, fmt.Errorf("%w: header: column %q twice", ErrBadRow, c)
			}
			seen[c] = true
		}
		s.header = append([]string(nil), h...)
	}
	rec, err := s.read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrQuote) && !errors.Is(pe.Err, csv.ErrBareQuote) {
			return Row{}, err
		}
		if errors.Is(err, errTooLong) {
			return Row{}, fmt.Errorf("%w: after line %d: %w", ErrBadRow, s.line, err)
		}
		if pe != nil { // a malformed record: the reader goes on after it
			s.lr.base, s.line = s.r.InputOffset(), pe.Line
			if pe.Line > pe.StartLine && s.atEOF() {
				// A quote opened and never closed: the rows after it
				// are in its field, and cannot be read.
				return Row{}, fmt.Errorf("%w: line %d: a quoted field runs to the end of the file: %w", ErrBadRow, pe.StartLine, err)
			}
			return Row{Line: pe.StartLine, Err: fmt.Errorf("%w: %w", ErrBadRow, err)}, nil
		}
		return Row{}, err
	}
	line, _ := s.r.FieldPos(0)
	row := Row{Line: line}
	if len(rec) != len(s.header) {
		row.Err = fmt.Errorf("%w: %d fields, the header has %d", ErrBadRow, len(rec), len(s.header))
		return row, nil
	}
	p := cellParser{loc: s.loc}
	m := &row.Member
	var val Value
	hasValue := false
	for i, col := range s.header {
		v := rec[i]
		if v == "" {
			if col == "gifted_levels" {
				m.GiftedLevels = []string{} // none gifted, not none given
			}
			continue
		}
		switch col {
		case "request_id":
			m.RequestID = v
		case "member":
			m.Member = v
		case "at":
			m.At = p.time(col, v)
		case "level":
			m.Level = v
		case "term_end":
			m.TermEnd = p.end(col, v)
		case "growth":
			m.Growth = p.dec(col, v)
		case "lifetime":
			m.Lifetime = p.dec(col, v)
		case "growth_days":
			m.GrowthDays = p.growthDays(v)
		case "gifted_levels":
			m.GiftedLevels = p.giftedLevels(v)
		case "owed_gifts":
			m.OwedGifts = p.owedGifts(v)
		case "plans":
			m.Plans = p.plans(v)
		case "points", "pending":
			m.Points = p.points(m.Points, col, v)
		case "value_balance":
			val.Balance, hasValue = p.dec(col, v), true
		case "value_recharged":
			val.Recharged, hasValue = p.dec(col, v), true
		case "value_spent":
			val.Spent, hasValue = p.dec(col, v), true
		case "value_refunded":
			val.Refunded, hasValue = p.dec(col, v), true
		case "value_withdrawn":
			val.Withdrawn, hasValue = p.dec(col, v), true
		case "coupons":
			m.Coupons = p.coupons(v)
		case "achievements":
			m.Achievements = p.achievements(v)
		case "tags":
			m.Tags = strings.Split(v, ";")
		default:
			if m.Profile == nil {
				m.Profile = map[string]string{}
			}
			m.Profile[strings.TrimPrefix(col, "profile.")] = v
		}
		// Every cell is read, after a bad one too (p keeps the first
		// error): the report of a bad row names its member, wherever the
		// member column is.
	}
	if hasValue {
		m.Value = &val
	}
	if p.err != nil {
		row.Err = fmt.Errorf("%w: %w", ErrBadRow, p.err)
	}
	return row, nil
}

// cellParser parses cells, keeping the first error (a FieldError).
type cellParser struct {
	loc *time.Location
	err error
}

func (p *cellParser) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = Fieldf(field, format, args...)
	}
}

func (p *cellParser) time(field, v string) time.Time {
	t, _ := p.dated(field, v)
	return t
}

// end is time for an expiry or a term end: a date is valid through that
// day, so it ends at 24:00, the start of the next day (the spec's
// "expires at 24:00 of day D").
func (p *cellParser) end(field, v string) time.Time {
	t, date := p.dated(field, v)
	if date {
		t = rule.DateOf(t, p.loc).AddDays(1).Start(p.loc)
	}
	return t
}

// dated parses v as an RFC 3339 time or a date (the start of that day in
// p.loc, its first instant where the zone skips midnight; date is true
// then).
func (p *cellParser) dated(field, v string) (t time.Time, date bool) {
	if v == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, false
	}
	d, err := rule.ParseDate(v)
	if err != nil {
		p.fail(field, "%q is neither an RFC 3339 time nor a date", v)
		return time.Time{}, false
	}
	return d.Start(p.loc), true
}

func (p *cellParser) dec(field, v string) decimal.Decimal {
	d, err := decimal.NewFromString(v)
	if err != nil {
		p.fail(field, "%q is not a decimal", v)
	}
	return d
}

// points adds the lots of a points or pending cell to ps, by program.
func (p *cellParser) points(ps []Points, col, v string) []Points {
	pending := col == "pending"
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("%s[%d]", col, i)
		parts := strings.Split(item, "|")
		want := 3
		if pending {
			want = 4
		}
		if len(parts) < 2 || len(parts) > want || parts[0] == "" {
			p.fail(f, "%q: want program|amount|expires%s", item, map[bool]string{true: "|release"}[pending])
			return ps
		}
		l := Lot{Amount: p.dec(f+".amount", parts[1])}
		if len(parts) > 2 {
			l.Expires = p.end(f+".expires", parts[2])
		}
		if len(parts) > 3 {
			l.Release = p.time(f+".release", parts[3])
		}
		j := 0
		for j < len(ps) && ps[j].Program != parts[0] {
			j++
		}
		if j == len(ps) {
			ps = append(ps, Points{Program: parts[0]})
		}
		if pending {
			ps[j].Pending = append(ps[j].Pending, l)
		} else {
			ps[j].Lots = append(ps[j].Lots, l)
		}
	}
	return ps
}

// growthDays parses a growth_days cell: date|growth, ";" between days.
func (p *cellParser) growthDays(v string) []GrowthDay {
	var out []GrowthDay
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("growth_days[%d]", i)
		day, growth, ok := strings.Cut(item, "|")
		if !ok || day == "" || strings.Contains(growth, "|") {
			p.fail(f, "%q: want date|growth", item)
			return out
		}
		d, err := rule.ParseDate(day)
		if err != nil {
			p.fail(f+".day", "%q is not a date (YYYY-MM-DD)", day)
			return out
		}
		out = append(out, GrowthDay{Day: d, Growth: p.dec(f+".growth", growth)})
	}
	return out
}

// giftedLevels parses a gifted_levels cell: levels, ";" between them.
func (p *cellParser) giftedLevels(v string) []string {
	out := strings.Split(v, ";")
	for i, l := range out {
		if l == "" {
			p.fail(fmt.Sprintf("gifted_levels[%d]", i), "empty: want a level")
			return nil
		}
	}
	return out
}

// owedGifts parses an owed_gifts cell: level|reward or
// level|reward|place, ";" between gifts.
func (p *cellParser) owedGifts(v string) []OwedGift {
	var out []OwedGift
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("owed_gifts[%d]", i)
		parts := strings.Split(item, "|")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			p.fail(f, "%q: want level|reward or level|reward|place", item)
			return out
		}
		g := OwedGift{Level: parts[0], Reward: parts[1]}
		if len(parts) == 3 {
			n, err := strconv.Atoi(parts[2])
			if err != nil || n < 1 || strings.Trim(parts[2], "0123456789") != "" {
				p.fail(f+".place", "%q: want a whole number from 1", parts[2])
				return out
			}
			g.Place = n
		}
		out = append(out, g)
	}
	return out
}

// plans parses a plans cell: plan|expires or plan|expires|since, ";"
// between plans.
func (p *cellParser) plans(v string) []Plan {
	var out []Plan
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("plans[%d]", i)
		parts := strings.Split(item, "|")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			p.fail(f, "%q: want plan|expires or plan|expires|since", item)
			return out
		}
		pl := Plan{Plan: parts[0], Expires: p.end(f+".expires", parts[1])}
		if len(parts) > 2 {
			pl.Since = p.time(f+".since", parts[2])
		}
		out = append(out, pl)
	}
	return out
}

// achievements parses an achievements cell: achievement,
// achievement|at or achievement|at|source|by, ";" between them.
func (p *cellParser) achievements(v string) []Achievement {
	var out []Achievement
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("achievements[%d]", i)
		parts := strings.Split(item, "|")
		if len(parts) == 3 || len(parts) > 4 || parts[0] == "" {
			p.fail(f, "%q: want achievement, achievement|at or achievement|at|source|by", item)
			return out
		}
		a := Achievement{Achievement: parts[0]}
		if len(parts) > 1 {
			a.At = p.time(f+".at", parts[1])
		}
		if len(parts) > 3 {
			a.Source, a.By = parts[2], parts[3]
		}
		out = append(out, a)
	}
	return out
}

func (p *cellParser) coupons(v string) []Coupon {
	var out []Coupon
	for i, item := range strings.Split(v, ";") {
		f := fmt.Sprintf("coupons[%d]", i)
		parts := strings.Split(item, "|")
		if len(parts) > 3 || parts[0] == "" {
			p.fail(f, "%q: want template|expires|code", item)
			return out
		}
		c := Coupon{Template: parts[0]}
		if len(parts) > 1 {
			c.Expires = p.end(f+".expires", parts[1])
		}
		if len(parts) > 2 {
			c.Code = parts[2]
		}
		out = append(out, c)
	}
	return out
}

// JSONL returns a source reading JSON lines from r: one Member object a
// line (its JSON form: "member", "level", "growth", "growth_days":
// [{"day": "2025-05-02", "growth"}], "gifted_levels": ["Silver"],
// "owed_gifts": [{"level", "reward", "place"}], "plans": [{"plan",
// "expires", "since"}], "points": [{"program", "lots": [{"amount",
// "expires"}], "pending": […]}], "value": {"balance", "recharged",
// "spent", "refunded", "withdrawn"}, "coupons": [{"template", "expires", "code"}],
// "achievements": [{"achievement", "at", "source", "by"}], "tags",
// "profile": {name: text}, …), times in RFC 3339, amounts as strings or numbers;
// "gifted_levels": [] says that the member had no level's gifts, and
// leaving it out (or null) counts them as Member.GiftedLevels says. Blank lines
// are skipped, and so is a byte order mark at the start of the file (one
// elsewhere is text of its line: a bad row). A line that is not valid UTF-8 (encoding/json would replace
// each invalid byte silently), is not one object, has text after it,
// holds a field the Member has not, a name twice in one object, or a
// value that does not parse is a bad row; where a field is at fault, its
// FieldError names it by its path ("points[0].lots[1].amount"). A line may
// be up to MaxRecord bytes; a longer one fails Next with an error wrapping
// ErrBadRow, which stops the run.
// A nil r fails the first Next with an error wrapping ErrInvalidArgument.
func JSONL(r io.Reader) Source {
	if r == nil {
		return nilReader("jsonl")
	}
	sc := bufio.NewScanner(skipBOM(r))
	sc.Buffer(make([]byte, 0, 64<<10), MaxRecord)
	return &jsonlSource{sc: sc}
}

type jsonlSource struct {
	sc   *bufio.Scanner
	line int
}

func (s *jsonlSource) Next() (Row, error) {
	for s.sc.Scan() {
		s.line++
		b := bytes.TrimSpace(s.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		row := Row{Line: s.line}
		if !utf8.Valid(b) { // encoding/json would take each bad byte as U+FFFD
			row.Err = fmt.Errorf("%w: not valid UTF-8", ErrBadRow)
			return row, nil
		}
		if err := decodeMember(b, &row.Member); err != nil {
			row.Err = fmt.Errorf("%w: %w", ErrBadRow, err)
		}
		return row, nil
	}
	if err := s.sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return Row{}, fmt.Errorf("%w: line %d: more than %d bytes", ErrBadRow, s.line+1, MaxRecord)
	} else if err != nil {
		return Row{}, fmt.Errorf("line %d: %w", s.line+1, err)
	}
	return Row{}, io.EOF
}

// The JSON form of a Member as JSONL reads it: amounts, times and the
// elements of lists are kept raw and decoded one by one, so that an error
// names the field by its path ("points[0].lots[1].amount"), as a CSV
// cell's and the program's refusals do.
type (
	jsonMember struct {
		RequestID  string            `json:"request_id"`
		Member     string            `json:"member"`
		Operator   string            `json:"operator"`
		At         json.RawMessage   `json:"at"`
		Profile    map[string]string `json:"profile"`
		Tags       []string          `json:"tags"`
		Level      string            `json:"level"`
		TermEnd    json.RawMessage   `json:"term_end"`
		Growth     json.RawMessage   `json:"growth"`
		Lifetime   json.RawMessage   `json:"lifetime"`
		GrowthDays []json.RawMessage `json:"growth_days"`
		Gifted     []string          `json:"gifted_levels"` // nil when absent or null, [] when empty
		OwedGifts  []json.RawMessage `json:"owed_gifts"`
		Plans      []json.RawMessage `json:"plans"`
		Points     []json.RawMessage `json:"points"`
		Value      json.RawMessage   `json:"value"`
		Coupons    []json.RawMessage `json:"coupons"`
		Achieved   []json.RawMessage `json:"achievements"`
	}
	jsonPlan struct {
		Plan    string          `json:"plan"`
		Expires json.RawMessage `json:"expires"`
		Since   json.RawMessage `json:"since"`
	}
	jsonAchievement struct {
		Achievement string          `json:"achievement"`
		At          json.RawMessage `json:"at"`
		Source      string          `json:"source"`
		By          string          `json:"by"`
	}
	jsonGrowthDay struct {
		Day    json.RawMessage `json:"day"`
		Growth json.RawMessage `json:"growth"`
	}
	jsonPoints struct {
		Program string            `json:"program"`
		Lots    []json.RawMessage `json:"lots"`
		Pending []json.RawMessage `json:"pending"`
	}
	jsonLot struct {
		Amount  json.RawMessage `json:"amount"`
		Expires json.RawMessage `json:"expires"`
		Release json.RawMessage `json:"release"`
	}
	jsonValue struct {
		Balance   json.RawMessage `json:"balance"`
		Recharged json.RawMessage `json:"recharged"`
		Spent     json.RawMessage `json:"spent"`
		Refunded  json.RawMessage `json:"refunded"`
		Withdrawn json.RawMessage `json:"withdrawn"`
	}
	jsonCoupon struct {
		Template string          `json:"template"`
		Expires  json.RawMessage `json:"expires"`
		Code     string          `json:"code"`
	}
)

// decodeMember decodes one JSON line, an object and nothing after it,
// into m; the error is a FieldError naming the field at fault, when one
// is.
func decodeMember(b []byte, m *Member) error {
	var jm jsonMember
	err := decodeStrict(b, "", &jm)
	m.RequestID, m.Member, m.Operator = jm.RequestID, jm.Member, jm.Operator // for the report of a bad row
	if err != nil {
		return err
	}
	if f := duplicateName(b); f != "" {
		return Fieldf(f, "named twice in its object")
	}
	d := jsonDecoder{}
	m.At = d.time("at", jm.At)
	m.Profile, m.Tags, m.Level, m.GiftedLevels = jm.Profile, jm.Tags, jm.Level, jm.Gifted
	m.TermEnd = d.time("term_end", jm.TermEnd)
	m.Growth = d.dec("growth", jm.Growth)
	m.Lifetime = d.dec("lifetime", jm.Lifetime)
	for i, raw := range jm.GrowthDays {
		f := fmt.Sprintf("growth_days[%d]", i)
		var jd jsonGrowthDay
		d.strict(raw, f, &jd)
		m.GrowthDays = append(m.GrowthDays, GrowthDay{Day: d.date(f+".day", jd.Day), Growth: d.dec(f+".growth", jd.Growth)})
	}
	for i, raw := range jm.OwedGifts {
		var g OwedGift
		d.strict(raw, fmt.Sprintf("owed_gifts[%d]", i), &g)
		m.OwedGifts = append(m.OwedGifts, g)
	}
	for i, raw := range jm.Plans {
		f := fmt.Sprintf("plans[%d]", i)
		var jp jsonPlan
		d.strict(raw, f, &jp)
		m.Plans = append(m.Plans, Plan{Plan: jp.Plan, Expires: d.time(f+".expires", jp.Expires), Since: d.time(f+".since", jp.Since)})
	}
	for i, raw := range jm.Points {
		f := fmt.Sprintf("points[%d]", i)
		var jp jsonPoints
		d.strict(raw, f, &jp)
		pp := Points{Program: jp.Program, Lots: d.lots(f+".lots", jp.Lots), Pending: d.lots(f+".pending", jp.Pending)}
		m.Points = append(m.Points, pp)
	}
	if !null(jm.Value) {
		var jv jsonValue
		d.strict(jm.Value, "value", &jv)
		m.Value = &Value{Balance: d.dec("value.balance", jv.Balance), Recharged: d.dec("value.recharged", jv.Recharged), Spent: d.dec("value.spent", jv.Spent),
			Refunded: d.dec("value.refunded", jv.Refunded), Withdrawn: d.dec("value.withdrawn", jv.Withdrawn)}
	}
	for i, raw := range jm.Coupons {
		f := fmt.Sprintf("coupons[%d]", i)
		var jc jsonCoupon
		d.strict(raw, f, &jc)
		m.Coupons = append(m.Coupons, Coupon{Template: jc.Template, Expires: d.time(f+".expires", jc.Expires), Code: jc.Code})
	}
	for i, raw := range jm.Achieved {
		f := fmt.Sprintf("achievements[%d]", i)
		var ja jsonAchievement
		d.strict(raw, f, &ja)
		m.Achievements = append(m.Achievements, Achievement{Achievement: ja.Achievement, At: d.time(f+".at", ja.At), Source: ja.Source, By: ja.By})
	}
	return d.err
}

// jsonDecoder decodes the raw values of a JSON line, keeping the first
// error (a FieldError).
type jsonDecoder struct{ err error }

func (d *jsonDecoder) strict(raw json.RawMessage, path string, v any) {
	if d.err == nil && !null(raw) {
		d.err = decodeStrict(raw, path, v)
	}
}

func (d *jsonDecoder) lots(path string, raws []json.RawMessage) []Lot {
	var out []Lot
	for i, raw := range raws {
		f := fmt.Sprintf("%s[%d]", path, i)
		var jl jsonLot
		d.strict(raw, f, &jl)
		out = append(out, Lot{Amount: d.dec(f+".amount", jl.Amount), Expires: d.time(f+".expires", jl.Expires), Release: d.time(f+".release", jl.Release)})
	}
	return out
}

// dec decodes an amount, a JSON string or number (null: zero).
func (d *jsonDecoder) dec(field string, raw json.RawMessage) decimal.Decimal {
	var v decimal.Decimal
	if d.err == nil && !null(raw) {
		if err := v.UnmarshalJSON(raw); err != nil {
			d.err = Fieldf(field, "%s is not a decimal", raw)
		}
	}
	return v
}

// date decodes a date, a JSON string "2025-05-02" (required).
func (d *jsonDecoder) date(field string, raw json.RawMessage) rule.Date {
	if d.err != nil {
		return rule.Date{}
	}
	if null(raw) {
		d.err = Fieldf(field, "a date is required")
		return rule.Date{}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := rule.ParseDate(s); err == nil {
			return v
		}
	}
	d.err = Fieldf(field, "%s is not a date (YYYY-MM-DD)", raw)
	return rule.Date{}
}

// time decodes an RFC 3339 time, a JSON string (null: zero).
func (d *jsonDecoder) time(field string, raw json.RawMessage) time.Time {
	var t time.Time
	if d.err == nil && !null(raw) {
		if err := t.UnmarshalJSON(raw); err != nil {
			d.err = Fieldf(field, "%s is not an RFC 3339 time", raw)
		}
	}
	return t
}

// duplicateName returns the path of the first name that b, a JSON value
// that decodes, holds twice in one object ("points[0].lots[1].amount"),
// or "" when none is: encoding/json keeps the last, silently.
func duplicateName(b []byte) string {
	type frame struct {
		obj, wantKey bool
		keys         map[string]bool
		key          string
		idx          int
	}
	var st []frame
	path := func(last string) string {
		var sb strings.Builder
		for _, f := range st[:len(st)-1] {
			switch {
			case !f.obj:
				fmt.Fprintf(&sb, "[%d]", f.idx)
			case sb.Len() > 0:
				sb.WriteString("." + f.key)
			default:
				sb.WriteString(f.key)
			}
		}
		if sb.Len() > 0 {
			sb.WriteString(".")
		}
		return sb.String() + last
	}
	// ended ends a value; it reports whether it was the top one.
	ended := func() bool {
		if len(st) == 0 {
			return true
		}
		st[len(st)-1].wantKey = st[len(st)-1].obj
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		d, delim := tok.(json.Delim)
		if n := len(st); n > 0 && st[n-1].wantKey {
			if delim { // '}'
				if st = st[:n-1]; ended() {
					return ""
				}
				continue
			}
			k, _ := tok.(string)
			if st[n-1].keys[k] {
				return path(k)
			}
			st[n-1].keys[k], st[n-1].key, st[n-1].wantKey = true, k, false
			continue
		}
		if delim && d == ']' {
			if st = st[:len(st)-1]; ended() {
				return ""
			}
			continue
		}
		if n := len(st); n > 0 && !st[n-1].obj {
			st[n-1].idx++
		}
		if delim { // '{' or '['
			f := frame{obj: d == '{', wantKey: d == '{', idx: -1}
			if f.obj {
				f.keys = map[string]bool{}
			}
			st = append(st, f)
			continue
		}
		if ended() {
			return ""
		}
	}
}

func null(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// decodeStrict decodes b, one JSON value and nothing after it, into v,
// refusing a field v has not; an error is a FieldError under path when
// the JSON names a field.
func decodeStrict(b []byte, path string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	join := func(f string) string {
		switch {
		case path == "":
			return f
		case f == "":
			return path
		}
		return path + "." + f
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if f := join(te.Field); f != "" {
				return Field(f, err)
			}
		} else if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Field(join(strings.Trim(f, `"`)), errors.New("unknown field"))
		}
		if path != "" {
			return Field(path, err)
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if path != "" {
			return Fieldf(path, "text after the value")
		}
		return errors.New("text after the object")
	}
	return nil
}

// errSource is a source that cannot be read: every Next returns its error.
type errSource struct{ err error }

func (s errSource) Next() (Row, error) { return Row{}, s.err }

// nilReader is the source of CSV or JSONL given a nil reader.
func nilReader(format string) Source {
	return errSource{fmt.Errorf("%s: %w: r: nil reader", format, ErrInvalidArgument)}
}
