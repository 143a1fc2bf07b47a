package migrate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/migrate"
)

// readAll reads src to its end as a fuzz target sees it: every error of
// Next and of a row wraps ErrBadRow, lines go forward, and the rows are
// at most one a line (the input has n bytes); it returns the good rows'
// members. A Next error other than io.EOF ends the source.
func readAll(t *testing.T, src migrate.Source, n int) []migrate.Member {
	t.Helper()
	var good []migrate.Member
	line := 0
	for rows := 0; ; rows++ {
		if rows > n+1 {
			t.Fatalf("more than %d rows from %d bytes", rows, n)
		}
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return good
		}
		if err != nil {
			if !errors.Is(err, migrate.ErrBadRow) {
				t.Fatalf("Next = %v; want io.EOF or an error wrapping ErrBadRow", err)
			}
			return good
		}
		if r.Line <= line {
			t.Fatalf("row of line %d after line %d", r.Line, line)
		}
		line = r.Line
		if r.Err != nil {
			if !errors.Is(r.Err, migrate.ErrBadRow) {
				t.Fatalf("line %d: %v; want an error wrapping ErrBadRow", r.Line, r.Err)
			}
			continue
		}
		good = append(good, r.Member)
	}
}

// sameAsJSONL fails t unless m, written as JSON, reads back through JSONL
// as itself: what a source reads is a member that says what it read. A
// member with text that is not valid UTF-8 (CSV passes it on; the
// program refuses it with event.ErrInvalidText) is not compared: JSON
// cannot hold it.
func sameAsJSONL(t *testing.T, m migrate.Member) {
	t.Helper()
	if event.CheckTexts(m) != nil {
		return
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %+v: %v", m, err)
	}
	r, err := migrate.JSONL(bytes.NewReader(raw)).Next()
	if err != nil || r.Err != nil {
		t.Fatalf("JSONL of %s: %v, %v", raw, err, r.Err)
	}
	again, _ := json.Marshal(r.Member)
	if !bytes.Equal(raw, again) {
		t.Fatalf("read back (-first +again):\n%s", cmp.Diff(string(raw), string(again)))
	}
}

func addFile(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// FuzzCSV: CSV on any bytes gives rows and errors as readAll wants,
// never a panic, and each good row's member reads back as itself through
// JSONL.
func FuzzCSV(f *testing.F) {
	addFile(f, "testdata/members.csv")
	f.Add([]byte("member,points\nm1,\"mall|1\n"))
	f.Add([]byte("\ufeffmember,at\nm1,2026-03-08\n\"m2\"x,\n"))
	f.Add([]byte("member,owed_gifts\nm1,Gold|coupon:g|2;Gold|pack:p\nm2,Gold|coupon:g|0\n"))
	f.Add([]byte("member,value_balance,value_recharged,value_withdrawn\nm1,0,10,10\nm2,1,2,-3\nm3,,,x\n"))
	f.Add([]byte("member,plans,value_refunded,achievements\nm1,Plus|2027-03-10|2026-03-10T12:00:00+08:00,2.5,gold-club|2026-03-05T10:00:00+08:00|level|Gold;vip\nm2,Plus,x,a|b|c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cst := time.FixedZone("CST", 8*3600)
		for _, m := range readAll(t, migrate.CSV(bytes.NewReader(data), cst), len(data)) {
			sameAsJSONL(t, m)
		}
	})
}

// FuzzJSONL: JSONL on any bytes, as FuzzCSV.
func FuzzJSONL(f *testing.F) {
	addFile(f, "testdata/members.jsonl")
	f.Add([]byte(`{"member":"m1","points":[{"program":"p","lots":[{"amount":1e3}]}]}` + "\n" + `{"member":"m1","member":"m2"}`))
	f.Add([]byte(`{"member":"m1","owed_gifts":[{"level":"Gold","reward":"pack:p","place":2},{"level":"Gold","reward":"pack:p","place":-1}]}`))
	f.Add([]byte(`{"member":"m1","value":{"balance":0,"recharged":"10","withdrawn":"10"}}` + "\n" + `{"member":"m2","value":{"withdrawn":null}}`))
	f.Add([]byte(`{"member":"m1","plans":[{"plan":"Plus","expires":"2027-03-10T12:00:00+08:00"}],"value":{"balance":1,"refunded":"0.5"},` +
		`"achievements":[{"achievement":"a","at":"2026-03-05T10:00:00+08:00","source":"task","by":"t"},{"achievement":"b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range readAll(t, migrate.JSONL(bytes.NewReader(data)), len(data)) {
			sameAsJSONL(t, m)
		}
	})
}
