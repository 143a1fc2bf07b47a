package migrate_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/memberkit/membership/migrate"
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
