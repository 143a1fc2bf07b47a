package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/migrate"
	"github.com/shopspring/decimal"
)

// rowsOf reads every row of src until io.EOF; it fails the test on any
// other error.
func rowsOf(t *testing.T, src migrate.Source) []migrate.Row {
	t.Helper()
	var rows []migrate.Row
	for {
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(rows), err)
		}
		rows = append(rows, r)
	}
}

// A spreadsheet's CSV often starts with a UTF-8 byte order mark: it is
// not part of the first column's name, and the file reads as without it.
func TestCSVByteOrderMark(t *testing.T) {
	rows := rowsOf(t, migrate.CSV(strings.NewReader("\ufeffmember,growth\r\nana,5\r\n"), shanghai))
	if len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Member != "ana" || !rows[0].Member.Growth.Equal(dec("5")) || rows[0].Line != 2 {
		t.Fatalf("rows %+v, want ana with 5 growth on line 2", rows)
	}
}

// A byte order mark is skipped also when the header's first name is
// quoted (a writer quoting every field): it used to be read as a bare
// quote in an unquoted field, which failed the header.
func TestCSVByteOrderMarkBeforeAQuote(t *testing.T) {
	rows := rowsOf(t, migrate.CSV(strings.NewReader("\ufeff\"member\",\"growth\"\r\n\"ana\",\"5\"\r\n"), shanghai))
	if len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Member != "ana" || !rows[0].Member.Growth.Equal(dec("5")) || rows[0].Line != 2 {
		t.Fatalf("rows %+v, want ana with 5 growth on line 2", rows)
	}
}

// A JSON lines file written with a byte order mark (Windows tools do)
// reads as without it: the first line used to be a bad row. A mark
// anywhere else is not skipped: it is text of its line.
func TestJSONLByteOrderMark(t *testing.T) {
	rows := rowsOf(t, migrate.JSONL(strings.NewReader("\ufeff{\"member\":\"ana\",\"growth\":\"5\"}\r\n\ufeff{\"member\":\"bo\"}\r\n")))
	if len(rows) != 2 || rows[0].Err != nil || rows[0].Member.Member != "ana" || !rows[0].Member.Growth.Equal(dec("5")) || rows[0].Line != 1 {
		t.Fatalf("rows %+v, want ana with 5 growth on line 1", rows)
	}
	if rows[1].Err == nil || !errors.Is(rows[1].Err, migrate.ErrBadRow) || rows[1].Line != 2 {
		t.Errorf("line 2: %+v, want a bad row", rows[1])
	}
}

// A row with a bad cell names its member whatever the column order: the
// member column after the bad cell used to be left unread, and the
// RowError named no member (a JSON line names it wherever it is).
func TestCSVBadCellNamesTheMember(t *testing.T) {
	src := migrate.CSV(strings.NewReader("growth,points,member\n1x,mall|5|,ana\n5,mall|x|,bo\n"), shanghai)
	res, err := migrate.Run(context.Background(), nopTarget{}, src, migrate.Options{Name: "f.csv", At: time.Date(2025, 6, 1, 0, 0, 0, 0, shanghai)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, fmt.Sprintf("%d %s %s", e.Line, e.Member, e.Field))
	}
	if diff := cmp.Diff([]string{"2 ana growth", "3 bo points[0].amount"}, got); diff != "" {
		t.Errorf("bad rows (-want +got):\n%s", diff)
	}
}

// nopTarget applies nothing: every row it is given is applied.
type nopTarget struct{}

func (nopTarget) OpenMembers(_ context.Context, rows []migrate.Member, _ bool) ([]*change.Outcome, []error, error) {
	outs := make([]*change.Outcome, len(rows))
	for i := range outs {
		outs[i] = &change.Outcome{}
	}
	return outs, make([]error, len(rows)), nil
}

// A column named twice in the header is refused by the first Next, as an
// unknown column is: which of the two cells counts would be a guess (the
// second one used to win, or both lots were taken for "points").
func TestCSVDuplicateColumn(t *testing.T) {
	for _, header := range []string{"member,member", "member,points,points", "member,profile.city,profile.city"} {
		src := migrate.CSV(strings.NewReader(header+"\nana,x,y\n"), shanghai)
		_, err := src.Next()
		if !errors.Is(err, migrate.ErrBadRow) || !strings.Contains(err.Error(), "twice") {
			t.Errorf("header %q: %v, want ErrBadRow naming the column twice", header, err)
		}
	}
}

// A JSON line whose amount or time does not parse names the field by its
// path, as a CSV cell's and the program's refusals do; a line with text
// after its object is bad, whatever that text is.
func TestJSONLFieldOfBadValue(t *testing.T) {
	for _, c := range []struct {
		line, field string
	}{
		{`{"member":"a","growth":"abc"}`, "growth"},
		{`{"member":"a","lifetime":true}`, "lifetime"},
		{`{"member":"a","at":"2025-06-01"}`, "at"},
		{`{"member":"a","term_end":"tomorrow"}`, "term_end"},
		{`{"member":"a","points":[{"program":"mall","lots":[{"amount":"5"},{"amount":"x"}]}]}`, "points[0].lots[1].amount"},
		{`{"member":"a","points":[{"program":"mall"},{"program":"mall","pending":[{"amount":"5","release":"soon"}]}]}`, "points[1].pending[0].release"},
		{`{"member":"a","points":[{"program":"mall","lots":[{"amount":"5","expires":5}]}]}`, "points[0].lots[0].expires"},
		{`{"member":"a","value":{"balance":"1","spent":"1,5"}}`, "value.spent"},
		{`{"member":"a","coupons":[{"template":"t","expires":"2025-13-01T00:00:00Z"}]}`, "coupons[0].expires"},
		{`{"member":"a","nickname":"x"}`, "nickname"},
		{`{"member":"a","points":[{"program":"mall","lots":[{"amount":"5","colour":"red"}]}]}`, "points[0].lots[0].colour"},
		{`{"member":"a","tags":"x"}`, "tags"},
	} {
		rows := rowsOf(t, migrate.JSONL(strings.NewReader(c.line)))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.field || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("%s: rows %+v, want a bad row naming %s", c.line, rows, c.field)
		}
	}
	for _, line := range []string{`{"member":"a"} }`, `{"member":"a"}]`, `{"member":"a"} x`, `{"member":"a"}{"member":"b"}`} {
		rows := rowsOf(t, migrate.JSONL(strings.NewReader(line+"\n"+`{"member":"b"}`)))
		if len(rows) != 2 || !errors.Is(rows[0].Err, migrate.ErrBadRow) || rows[1].Err != nil || rows[1].Member.Member != "b" || rows[1].Line != 2 {
			t.Errorf("%s: rows %+v, want line 1 bad and b on line 2", line, rows)
		}
	}
}

// A quoted field not closed before the end of the file swallows every
// row after it: Next returns an error naming its line (the run stops,
// reporting it) rather than one bad row and then io.EOF, which made the
// rows after it vanish from a run that reported success.
func TestCSVQuoteToTheEnd(t *testing.T) {
	src := migrate.CSV(strings.NewReader("member,growth\na,5\n\"b,6\nc,7\nd,8\n"), shanghai)
	r, err := src.Next()
	if err != nil || r.Err != nil || r.Member.Member != "a" {
		t.Fatalf("first row %+v %v, want a", r, err)
	}
	r, err = src.Next()
	if !errors.Is(err, migrate.ErrBadRow) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("second Next: %+v %v, want an error wrapping ErrBadRow naming line 3", r, err)
	}
	// A malformed quoted field closed before the end is one bad row; the
	// next rows are read.
	rows := rowsOf(t, migrate.CSV(strings.NewReader("member,growth\n\"a\nb\"x,5\nc,6\n"), shanghai))
	if len(rows) != 2 || !errors.Is(rows[0].Err, migrate.ErrBadRow) || rows[0].Line != 2 || rows[1].Member.Member != "c" || rows[1].Line != 4 {
		t.Fatalf("rows %+v, want line 2 bad, then c on line 4", rows)
	}
}

// countingReader yields a CSV header and a row whose quoted field never
// ends, counting the bytes read.
type countingReader struct {
	head string
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.read < len(c.head) {
			p[n] = c.head[c.read]
		} else {
			p[n] = 'x'
		}
		n++
		c.read++
	}
	return n, nil
}

// A record is at most 1 MiB, as a JSON line is: a longer one (a huge
// field, or a quote never closed) stops the run with an error naming the
// line it follows, having read little more than that, rather than reading
// the rest of the file into memory (this test was killed for memory).
func TestCSVRecordLimit(t *testing.T) {
	r := &countingReader{head: "member,profile.city\na,5\nb,\""}
	src := migrate.CSV(r, shanghai)
	if row, err := src.Next(); err != nil || row.Member.Member != "a" {
		t.Fatalf("first row %+v %v, want a", row, err)
	}
	_, err := src.Next()
	if !errors.Is(err, migrate.ErrBadRow) || !strings.Contains(err.Error(), "after line 2") {
		t.Fatalf("huge record: %v, want an error wrapping ErrBadRow naming line 2", err)
	}
	if r.read > len(r.head)+1<<20+64<<10 {
		t.Errorf("read %d bytes, want at most 1 MiB and a buffer", r.read)
	}
}

// A JSON line longer than MaxRecord stops the run, as a CSV record does,
// with an error wrapping ErrBadRow that names its line; a CSV header
// that does not parse (a stray quote) fails the first Next so too.
func TestSourceUnreadableInput(t *testing.T) {
	long := `{"member":"a"}` + "\n" + `{"member":"` + strings.Repeat("b", migrate.MaxRecord) + `"}` + "\n"
	src := migrate.JSONL(strings.NewReader(long))
	if row, err := src.Next(); err != nil || row.Member.Member != "a" {
		t.Fatalf("first line %+v %v, want a", row, err)
	}
	if _, err := src.Next(); !errors.Is(err, migrate.ErrBadRow) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("long line: %v, want an error wrapping ErrBadRow naming line 2", err)
	}
	if _, err := migrate.CSV(strings.NewReader("member,gro\"wth\na,5\n"), shanghai).Next(); !errors.Is(err, migrate.ErrBadRow) {
		t.Errorf("header with a stray quote: %v, want an error wrapping ErrBadRow", err)
	}
}

// A JSON object holding a name twice is a bad row naming it: which value
// counts would be a guess (encoding/json takes the last one, so the row
// {"member":"a",…,"member":"b"} used to open b).
func TestJSONLDuplicateKey(t *testing.T) {
	for _, c := range []struct{ line, field string }{
		{`{"member":"a","growth":"5","member":"b"}`, "member"},
		{`{"member":"a","profile":{"city":"x","city":"y"}}`, "profile.city"},
		{`{"member":"a","points":[{"program":"mall","lots":[{"amount":"5"},{"amount":"5","amount":"6"}]}]}`, "points[0].lots[1].amount"},
		{`{"member":"a","value":{"balance":"1"},"coupons":[],"value":{"balance":"2"}}`, "value"},
	} {
		rows := rowsOf(t, migrate.JSONL(strings.NewReader(c.line)))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.field || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("%s: rows %+v, want a bad row naming %s", c.line, rows, c.field)
		}
	}
	// The same name in two objects is no duplicate.
	rows := rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"a","points":[{"program":"mall","lots":[{"amount":"5"},{"amount":"6"}]},{"program":"park"}]}`)))
	if len(rows) != 1 || rows[0].Err != nil || len(rows[0].Member.Points) != 2 {
		t.Errorf("rows %+v, want a with two programs", rows)
	}
}

// A JSON line that is not valid UTF-8 (a Latin-1 export, say) is a bad
// row: encoding/json would take each invalid byte as U+FFFD, so "Jos\xe9"
// used to be opened as "Jos\uFFFD", silently; a CSV cell is checked by
// the program instead (TestOpenMemberMalformedRows).
func TestJSONLInvalidUTF8(t *testing.T) {
	rows := rowsOf(t, migrate.JSONL(strings.NewReader("{\"member\":\"a\",\"profile\":{\"city\":\"Jos\xe9\"}}\n{\"member\":\"b\"}\n")))
	if len(rows) != 2 || !errors.Is(rows[0].Err, migrate.ErrBadRow) || !strings.Contains(rows[0].Err.Error(), "UTF-8") || rows[1].Err != nil {
		t.Fatalf("rows %+v, want line 1 bad for its UTF-8, b good", rows)
	}
}

// A date in a CSV cell is the start of that day in the zone given for at
// and release, and its end, 24:00 (the next day's start), for an expiry or
// a term end: an old system's "expires 2025-12-31" is valid all that day,
// as the program's own validities are ("24:00 of day D"). An RFC 3339
// time is taken as it is.
func TestCSVDatesEndAtMidnight(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, shanghai) }
	rows := rowsOf(t, migrate.CSV(strings.NewReader("member,at,term_end,points,pending,coupons\n"+
		"ana,2025-06-01,2026-06-01,mall|300|2025-12-31,mall|50|2026-03-31|2025-06-10,t|2025-07-01;u|2025-07-01T10:00:00+08:00\n"), shanghai))
	if len(rows) != 1 || rows[0].Err != nil {
		t.Fatalf("rows %+v, want one good row", rows)
	}
	m := rows[0].Member
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"at", m.At, day(2025, 6, 1)},
		{"term_end", m.TermEnd, day(2026, 6, 2)},
		{"points[0].expires", m.Points[0].Lots[0].Expires, day(2026, 1, 1)},
		{"pending[0].expires", m.Points[0].Pending[0].Expires, day(2026, 4, 1)},
		{"pending[0].release", m.Points[0].Pending[0].Release, day(2025, 6, 10)},
		{"coupons[0].expires", m.Coupons[0].Expires, day(2025, 7, 2)},
		{"coupons[1].expires", m.Coupons[1].Expires, time.Date(2025, 7, 1, 10, 0, 0, 0, shanghai)},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// In a zone whose midnight does not exist (Santiago: on 2026-09-06 the
// clocks go from 00:00 to 01:00), a date's day starts at 01:00: "at
// 2026-09-06" is not 23:00 of the 5th, and an expiry "2026-09-05" ends
// at 24:00 of the 5th, which is 01:00 of the 6th, not an hour early.
func TestCSVDatesWhereMidnightIsSkipped(t *testing.T) {
	santiago, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	rows := rowsOf(t, migrate.CSV(strings.NewReader("member,at,points\n"+
		"ana,2026-09-06,mall|300|2026-09-05\n"), santiago))
	if len(rows) != 1 || rows[0].Err != nil {
		t.Fatalf("rows %+v, want one good row", rows)
	}
	m := rows[0].Member
	first := time.Date(2026, 9, 6, 1, 0, 0, 0, santiago) // 04:00 UTC
	if !m.At.Equal(first) {
		t.Errorf("at = %v, want %v", m.At, first)
	}
	if got := m.Points[0].Lots[0].Expires; !got.Equal(first) {
		t.Errorf("points[0].expires = %v, want %v", got, first)
	}
}

// The growth days read the same from a CSV cell (date|growth, ";"
// between days) and from JSON (objects of day and growth); a value that
// does not parse names its field.
func TestGrowthDaysSources(t *testing.T) {
	want := []migrate.GrowthDay{{Day: date(t, "2025-05-02"), Growth: dec("120")}, {Day: date(t, "2025-05-20"), Growth: dec("-20")}}
	for name, src := range map[string]migrate.Source{
		"csv":   migrate.CSV(strings.NewReader("member,growth,growth_days\nana,100,2025-05-02|120;2025-05-20|-20\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","growth":"100","growth_days":[{"day":"2025-05-02","growth":"120"},{"day":"2025-05-20","growth":-20}]}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil {
			t.Fatalf("%s: rows %+v, want one good row", name, rows)
		}
		if d := cmp.Diff(want, rows[0].Member.GrowthDays, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); d != "" {
			t.Errorf("%s: growth days (-want +got):\n%s", name, d)
		}
	}
	// An empty cell, or no column, gives no days.
	for _, text := range []string{"member,growth,growth_days\nana,100,\n", "member,growth\nana,100\n"} {
		if rows := rowsOf(t, migrate.CSV(strings.NewReader(text), shanghai)); len(rows) != 1 || rows[0].Err != nil || rows[0].Member.GrowthDays != nil {
			t.Errorf("%q: rows %+v, want one row without growth days", text, rows)
		}
	}

	for _, c := range []struct {
		name, cell, csvField, line, jsonField string
	}{
		{"no growth", "2025-05-02", "growth_days[0]", `[{"day":"2025-05-02"},{}]`, "growth_days[1].day"},
		{"no date", "|5", "growth_days[0]", `[{"growth":5}]`, "growth_days[0].day"},
		{"not a date", "2025-05-02|5;2025-13-01|5", "growth_days[1].day", `[{"day":"2025-05-02","growth":5},{"day":"2025-13-01","growth":5}]`, "growth_days[1].day"},
		{"a time, not a date", "2025-05-02T00:00:00+08:00|5", "growth_days[0].day", `[{"day":"2025-05-02T00:00:00+08:00","growth":5}]`, "growth_days[0].day"},
		{"not a decimal", "2025-05-02|5;2025-05-03|x", "growth_days[1].growth", `[{"day":"2025-05-02","growth":5},{"day":"2025-05-03","growth":"x"}]`, "growth_days[1].growth"},
		{"more", "2025-05-02|5|6", "growth_days[0]", `[{"day":"2025-05-02","growth":5,"note":"x"}]`, "growth_days[0].note"},
	} {
		rows := rowsOf(t, migrate.CSV(strings.NewReader("member,growth_days\nana,"+c.cell+"\n"), shanghai))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.csvField || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("csv %s: rows %+v, want a bad row naming %s", c.name, rows, c.csvField)
		}
		rows = rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"ana","growth_days":`+c.line+`}`)))
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.jsonField || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("jsonl %s: rows %+v, want a bad row naming %s", c.name, rows, c.jsonField)
		}
	}
}

// The rewards of upgrade gifts owed read the same from a CSV cell
// (level|reward or level|reward|place, ";" between them) and from JSON
// (objects of level, reward and place); one without its place has Place
// 0 (placed by its order); an empty cell, or no column, owes none; a cell
// or value that does not parse names its field: a place is a whole
// number from 1, written as digits alone.
func TestOwedGiftsSources(t *testing.T) {
	want := []migrate.OwedGift{{Level: "Gold", Reward: "coupon:gold-gift"}, {Level: "Platinum", Reward: "pack:spring", Place: 2}}
	for name, src := range map[string]migrate.Source{
		"csv":   migrate.CSV(strings.NewReader("member,owed_gifts\nana,Gold|coupon:gold-gift;Platinum|pack:spring|2\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","owed_gifts":[{"level":"Gold","reward":"coupon:gold-gift"},{"level":"Platinum","reward":"pack:spring","place":2}]}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil {
			t.Fatalf("%s: rows %+v, want one good row", name, rows)
		}
		if d := cmp.Diff(want, rows[0].Member.OwedGifts); d != "" {
			t.Errorf("%s: owed gifts (-want +got):\n%s", name, d)
		}
	}
	for _, text := range []string{"member,growth,owed_gifts\nana,100,\n", "member,growth\nana,100\n"} {
		if rows := rowsOf(t, migrate.CSV(strings.NewReader(text), shanghai)); len(rows) != 1 || rows[0].Err != nil || rows[0].Member.OwedGifts != nil {
			t.Errorf("%q: rows %+v, want one row owing nothing", text, rows)
		}
	}
	for _, c := range []struct{ cell, field string }{
		{"Gold", "owed_gifts[0]"},
		{"Gold|coupon:gold-gift;|coupon:x", "owed_gifts[1]"},
		{"Gold|", "owed_gifts[0]"},
		{"Gold|coupon:gold-gift|1|2", "owed_gifts[0]"},
		{"Gold|coupon:gold-gift;Gold|coupon:gold-gift|x", "owed_gifts[1].place"},
		{"Gold|coupon:gold-gift|", "owed_gifts[0].place"},
		{"Gold|coupon:gold-gift|0", "owed_gifts[0].place"},
		{"Gold|coupon:gold-gift|-1", "owed_gifts[0].place"},
		{"Gold|coupon:gold-gift|+2", "owed_gifts[0].place"},
		{"Gold|coupon:gold-gift| 2", "owed_gifts[0].place"},
		{"Gold|coupon:gold-gift|99999999999999999999", "owed_gifts[0].place"}, // past int64
	} {
		rows := rowsOf(t, migrate.CSV(strings.NewReader("member,owed_gifts\nana,"+c.cell+"\n"), shanghai))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.field || !errors.Is(rows[0].Err, migrate.ErrBadRow) || rows[0].Line != 2 {
			t.Errorf("csv %q: rows %+v, want a bad row on line 2 naming %s", c.cell, rows, c.field)
		}
	}
	for _, c := range []struct{ value, field string }{
		{`["Gold"]`, "owed_gifts[0]"},
		{`[{"level":"Gold","reward":"coupon:gold-gift"},{"level":5}]`, "owed_gifts[1].level"},
		{`[{"level":"Gold","reward":"coupon:gold-gift","count":2}]`, "owed_gifts[0].count"},
		{`[{"level":"Gold","reward":"coupon:gold-gift","place":"2"}]`, "owed_gifts[0].place"},
		{`[{"level":"Gold","reward":"coupon:gold-gift","place":1.5}]`, "owed_gifts[0].place"},
		{`{"level":"Gold"}`, "owed_gifts"},
	} {
		rows := rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"ana","owed_gifts":`+c.value+`}`)))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.field || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("jsonl %s: rows %+v, want a bad row naming %s", c.value, rows, c.field)
		}
	}
}

// The levels gifted read the same from a CSV cell (";" between them) and
// from JSON (a list); an empty cell or list gives an empty list (the
// member had no level's gifts), no column, no field or null gives nil
// (the levels up to the member's count as gifted); a cell or value that
// does not parse is a bad row naming its field (and, in CSV, its line).
func TestGiftedLevelsSources(t *testing.T) {
	for name, c := range map[string]struct {
		src  migrate.Source
		want []string
	}{
		"csv":              {migrate.CSV(strings.NewReader("member,gifted_levels\nana,Gold;Platinum\n"), shanghai), []string{"Gold", "Platinum"}},
		"jsonl":            {migrate.JSONL(strings.NewReader(`{"member":"ana","gifted_levels":["Gold","Platinum"]}`)), []string{"Gold", "Platinum"}},
		"csv empty":        {migrate.CSV(strings.NewReader("member,growth,gifted_levels\nana,100,\n"), shanghai), []string{}},
		"jsonl empty":      {migrate.JSONL(strings.NewReader(`{"member":"ana","gifted_levels":[]}`)), []string{}},
		"csv no column":    {migrate.CSV(strings.NewReader("member,growth\nana,100\n"), shanghai), nil},
		"jsonl no field":   {migrate.JSONL(strings.NewReader(`{"member":"ana"}`)), nil},
		"jsonl null":       {migrate.JSONL(strings.NewReader(`{"member":"ana","gifted_levels":null}`)), nil},
		"csv growth empty": {migrate.CSV(strings.NewReader("member,growth,gifted_levels\nana,,Gold\n"), shanghai), []string{"Gold"}},
	} {
		rows := rowsOf(t, c.src)
		if len(rows) != 1 || rows[0].Err != nil {
			t.Fatalf("%s: rows %+v, want one good row", name, rows)
		}
		got := rows[0].Member.GiftedLevels
		if (got == nil) != (c.want == nil) {
			t.Errorf("%s: gifted levels %#v, want %#v", name, got, c.want)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: gifted levels (-want +got):\n%s", name, d)
		}
	}
	for _, c := range []struct{ cell, field string }{
		{"Gold;", "gifted_levels[1]"},
		{";Gold", "gifted_levels[0]"},
		{"Gold;;Platinum", "gifted_levels[1]"},
	} {
		rows := rowsOf(t, migrate.CSV(strings.NewReader("member,gifted_levels\nana,Gold\nbob,"+c.cell+"\n"), shanghai))
		var fe *migrate.FieldError
		if len(rows) != 2 || rows[0].Err != nil || !errors.As(rows[1].Err, &fe) || fe.Field != c.field || !errors.Is(rows[1].Err, migrate.ErrBadRow) || rows[1].Line != 3 {
			t.Errorf("csv %q: rows %+v, want a bad row on line 3 naming %s", c.cell, rows, c.field)
		}
	}
	for _, value := range []string{`"Gold"`, `[5]`, `{"level":"Gold"}`} {
		rows := rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"ana","gifted_levels":`+value+`}`)))
		var fe *migrate.FieldError
		if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != "gifted_levels" || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
			t.Errorf("jsonl %s: rows %+v, want a bad row naming gifted_levels", value, rows)
		}
	}
}

// badCell checks that the CSV cell of col in a row after a good one, and
// the JSON value of field in a line, are bad rows naming csvField (on
// line 3) and jsonField.
func badCell(t *testing.T, col, cell, csvField, field, value, jsonField string) {
	t.Helper()
	rows := rowsOf(t, migrate.CSV(strings.NewReader("member,"+col+"\nana,\nbob,"+cell+"\n"), shanghai))
	var fe *migrate.FieldError
	if len(rows) != 2 || rows[0].Err != nil || !errors.As(rows[1].Err, &fe) || fe.Field != csvField || !errors.Is(rows[1].Err, migrate.ErrBadRow) || rows[1].Line != 3 {
		t.Errorf("csv %s %q: rows %+v, want a bad row on line 3 naming %s", col, cell, rows, csvField)
	}
	if value == "" {
		return
	}
	rows = rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"ana","`+field+`":`+value+`}`)))
	if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != jsonField || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
		t.Errorf("jsonl %s %s: rows %+v, want a bad row naming %s", field, value, rows, jsonField)
	}
}

// The plans held read the same from a CSV cell (plan|expires|since, since
// optional, ";" between plans) and from JSON (objects of plan, expires and
// since); a date is its day's end for expires, its start for since (in
// the zone given); an empty cell, or no column, holds none; a cell or
// value that does not parse is a bad row naming its field.
func TestPlansSources(t *testing.T) {
	want := []migrate.Plan{
		{Plan: "Plus", Expires: time.Date(2027, 3, 10, 12, 0, 0, 0, shanghai), Since: time.Date(2026, 3, 10, 12, 0, 0, 0, shanghai)},
		// 2027-01-31 as an expiry: valid all that day, to 24:00.
		{Plan: "Max", Expires: time.Date(2027, 2, 1, 0, 0, 0, 0, shanghai)},
	}
	for name, src := range map[string]migrate.Source{
		"csv": migrate.CSV(strings.NewReader("member,plans\nana,Plus|2027-03-10T12:00:00+08:00|2026-03-10;Max|2027-01-31\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","plans":[{"plan":"Plus","expires":"2027-03-10T12:00:00+08:00","since":"2026-03-10T00:00:00+08:00"},` +
			`{"plan":"Max","expires":"2027-02-01T00:00:00+08:00"}]}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil {
			t.Fatalf("%s: rows %+v, want one good row", name, rows)
		}
		w := slices.Clone(want)
		w[0].Since = time.Date(2026, 3, 10, 0, 0, 0, 0, shanghai) // the date's start
		if d := cmp.Diff(w, rows[0].Member.Plans, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
			t.Errorf("%s: plans (-want +got):\n%s", name, d)
		}
	}
	for _, text := range []string{"member,growth,plans\nana,100,\n", "member,growth\nana,100\n"} {
		if rows := rowsOf(t, migrate.CSV(strings.NewReader(text), shanghai)); len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Plans != nil {
			t.Errorf("%q: rows %+v, want one row holding no plan", text, rows)
		}
	}
	for _, c := range []struct{ name, cell, csvField, value, jsonField string }{
		// JSON's times are RFC 3339: a date alone is not one.
		{"no expiry", "Plus", "plans[0]", `[{"plan":"Plus","expires":"2027-01-01"}]`, "plans[0].expires"},
		{"empty expiry", "Plus|", "plans[0]", `[{"plan":"Plus","expires":5}]`, "plans[0].expires"},
		{"no plan", "Plus|2027-01-01;|2027-01-01", "plans[1]", `[{"plan":5}]`, "plans[0].plan"},
		{"bad expiry", "Plus|2027-13-01", "plans[0].expires", `[{"plan":"Plus","expires":"x"}]`, "plans[0].expires"},
		{"bad since", "Plus|2027-01-01|yesterday", "plans[0].since", `[{"plan":"Plus","since":"yesterday"}]`, "plans[0].since"},
		{"more", "Plus|2027-01-01|2026-01-01|x", "plans[0]", `[{"plan":"Plus","renewed":true}]`, "plans[0].renewed"},
		{"not a list", "", "", `{"plan":"Plus"}`, "plans"},
	} {
		if c.cell == "" {
			rows := rowsOf(t, migrate.JSONL(strings.NewReader(`{"member":"ana","plans":`+c.value+`}`)))
			var fe *migrate.FieldError
			if len(rows) != 1 || !errors.As(rows[0].Err, &fe) || fe.Field != c.jsonField || !errors.Is(rows[0].Err, migrate.ErrBadRow) {
				t.Errorf("jsonl %s: rows %+v, want a bad row naming %s", c.name, rows, c.jsonField)
			}
			continue
		}
		badCell(t, "plans", c.cell, c.csvField, "plans", c.value, c.jsonField)
	}
}

// The achievements granted read the same from a CSV cell
// (achievement|at|source|by, or its name alone, or name|at; ";" between
// them) and from JSON (objects of achievement, at, source and by); an
// empty cell, or no column, grants none; a cell or value that does not
// parse is a bad row naming its field. Whether a source is one of the
// grants' is the program's to say (TestImportAchievements).
func TestAchievementsSources(t *testing.T) {
	want := []migrate.Achievement{
		{Achievement: "gold-club", At: time.Date(2026, 3, 5, 10, 0, 0, 0, shanghai), Source: "level", By: "Gold"},
		{Achievement: "vip-guest"},
		{Achievement: "first-order", At: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)},
	}
	for name, src := range map[string]migrate.Source{
		"csv": migrate.CSV(strings.NewReader("member,achievements\nana,gold-club|2026-03-05T10:00:00+08:00|level|Gold;vip-guest;first-order|2026-03-01\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","achievements":[{"achievement":"gold-club","at":"2026-03-05T10:00:00+08:00","source":"level","by":"Gold"},` +
			`{"achievement":"vip-guest"},{"achievement":"first-order","at":"2026-03-01T00:00:00+08:00"}]}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil {
			t.Fatalf("%s: rows %+v, want one good row", name, rows)
		}
		if d := cmp.Diff(want, rows[0].Member.Achievements, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
			t.Errorf("%s: achievements (-want +got):\n%s", name, d)
		}
	}
	for _, text := range []string{"member,growth,achievements\nana,100,\n", "member,growth\nana,100\n"} {
		if rows := rowsOf(t, migrate.CSV(strings.NewReader(text), shanghai)); len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Achievements != nil {
			t.Errorf("%q: rows %+v, want one row granting none", text, rows)
		}
	}
	for _, c := range []struct{ name, cell, csvField, value, jsonField string }{
		{"no name", "gold-club;|2026-03-01", "achievements[1]", `[{"achievement":5}]`, "achievements[0].achievement"},
		{"source without by", "gold-club|2026-03-01|level", "achievements[0]", `[{"achievement":"gold-club","source":["level"]}]`, "achievements[0].source"},
		{"bad time", "gold-club|March", "achievements[0].at", `[{"achievement":"gold-club","at":"March"}]`, "achievements[0].at"},
		{"more", "gold-club|2026-03-01|level|Gold|x", "achievements[0]", `[{"achievement":"gold-club","note":"x"}]`, "achievements[0].note"},
	} {
		badCell(t, "achievements", c.cell, c.csvField, "achievements", c.value, c.jsonField)
	}
}

// The cumulative refund reads the same from the value_refunded cell and
// JSON's value.refunded; a cell or value that is not a decimal is a bad
// row naming its field; a file without the column refunds nothing.
func TestValueRefundedSources(t *testing.T) {
	for name, src := range map[string]migrate.Source{
		"csv":   migrate.CSV(strings.NewReader("member,value_balance,value_spent,value_refunded\nana,10,30,12.5\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","value":{"balance":10,"spent":"30","refunded":"12.5"}}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Value == nil {
			t.Fatalf("%s: rows %+v, want one good row with stored value", name, rows)
		}
		if v := rows[0].Member.Value; !v.Balance.Equal(dec("10")) || !v.Spent.Equal(dec("30")) || !v.Refunded.Equal(dec("12.5")) {
			t.Errorf("%s: value %+v, want balance 10, spent 30, refunded 12.5", name, v)
		}
	}
	if rows := rowsOf(t, migrate.CSV(strings.NewReader("member,value_balance,value_spent\nana,10,30\n"), shanghai)); len(rows) != 1 || rows[0].Err != nil ||
		rows[0].Member.Value == nil || !rows[0].Member.Value.Refunded.IsZero() {
		t.Errorf("without the column: rows %+v, want nothing refunded", rows)
	}
	// A cell alone gives a stored value of that refund.
	if rows := rowsOf(t, migrate.CSV(strings.NewReader("member,value_refunded\nana,3\n"), shanghai)); len(rows) != 1 || rows[0].Err != nil ||
		rows[0].Member.Value == nil || !rows[0].Member.Value.Refunded.Equal(dec("3")) {
		t.Errorf("a refund alone: rows %+v, want a stored value refunding 3", rows)
	}
	badCell(t, "value_refunded", "1e", "value_refunded", "value", `{"balance":1,"refunded":"x"}`, "value.refunded")
}

// The cumulative withdrawal reads the same from the value_withdrawn cell
// and JSON's value.withdrawn; a cell or value that is not a decimal is a
// bad row naming its field; a file without the column withdraws nothing.
func TestValueWithdrawnSources(t *testing.T) {
	for name, src := range map[string]migrate.Source{
		"csv":   migrate.CSV(strings.NewReader("member,value_balance,value_recharged,value_refunded,value_withdrawn\nana,10,30,2,22\n"), shanghai),
		"jsonl": migrate.JSONL(strings.NewReader(`{"member":"ana","value":{"balance":10,"recharged":"30","refunded":2,"withdrawn":"22"}}`)),
	} {
		rows := rowsOf(t, src)
		if len(rows) != 1 || rows[0].Err != nil || rows[0].Member.Value == nil {
			t.Fatalf("%s: rows %+v, want one good row with stored value", name, rows)
		}
		if v := rows[0].Member.Value; !v.Balance.Equal(dec("10")) || !v.Recharged.Equal(dec("30")) || !v.Refunded.Equal(dec("2")) || !v.Withdrawn.Equal(dec("22")) {
			t.Errorf("%s: value %+v, want balance 10, recharged 30, refunded 2, withdrawn 22", name, v)
		}
	}
	if rows := rowsOf(t, migrate.CSV(strings.NewReader("member,value_balance,value_recharged\nana,10,30\n"), shanghai)); len(rows) != 1 || rows[0].Err != nil ||
		rows[0].Member.Value == nil || !rows[0].Member.Value.Withdrawn.IsZero() {
		t.Errorf("without the column: rows %+v, want nothing withdrawn", rows)
	}
	// A cell alone gives a stored value of that withdrawal.
	if rows := rowsOf(t, migrate.CSV(strings.NewReader("member,value_withdrawn\nana,3\n"), shanghai)); len(rows) != 1 || rows[0].Err != nil ||
		rows[0].Member.Value == nil || !rows[0].Member.Value.Withdrawn.Equal(dec("3")) {
		t.Errorf("a withdrawal alone: rows %+v, want a stored value withdrawing 3", rows)
	}
	badCell(t, "value_withdrawn", "1e", "value_withdrawn", "value", `{"balance":1,"withdrawn":"x"}`, "value.withdrawn")
}
