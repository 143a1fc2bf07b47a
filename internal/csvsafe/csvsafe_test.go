package csvsafe_test

import (
	"strings"
	"testing"

	"github.com/memberkit/membership/internal/csvsafe"
)

// Each start of a cell (its beginning, and just after each ';') that a
// spreadsheet would read a formula from gets a '; the rest is unchanged,
// and dropping the ' at each start gives the text back.
func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"=1+2", "'=1+2"},
		{"+86", "'+86"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"＝1+1", "'＝1+1"},
		{"＋86", "'＋86"},
		{"－5", "'－5"},
		{"＠x", "'＠x"},
		{" @x", "' @x"},
		{"\u3000＝1", "'\u3000＝1"},
		{"\n=1", "'\n=1"},
		{"\t1", "'\t1"},
		{"\r1", "'\r1"},
		{"'ok", "''ok"},
		{`"q"`, `'"q"`},
		{"a;=b", "a;'=b"},
		{"=a;=b;c", "'=a;'=b;c"},
		{"a; -1", "a;' -1"},
		{"a;", "a;"},
		{"a-b;a@b.cn", "a-b;a@b.cn"},
		{"a,=b", "a,=b"}, // encoding/csv quotes it; a ',' spreadsheet keeps it whole
		{"1=2", "1=2"},
	} {
		got := csvsafe.Text(c.in)
		if got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
		parts := strings.Split(got, ";")
		for i, p := range parts {
			parts[i] = strings.TrimPrefix(p, "'")
		}
		if back := strings.Join(parts, ";"); back != c.in {
			t.Errorf("Text(%q) read back as %q", c.in, back)
		}
	}
}
