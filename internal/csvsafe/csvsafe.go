// Package csvsafe writes a text cell of a CSV file so that a spreadsheet
// never runs it as a formula (CSV injection). It is the one place of the
// rule, for every CSV writer of the module: package export (Members,
// Statement), package report (Report.WriteCSV) and the root package
// (Program.ExportAudit). Package export's documentation describes the
// rule to users; the other writers' documentation points there.
//
// Only text the library does not format itself goes through [Text]: IDs,
// names, notes, error messages. A number, decimal or time the library
// writes ("-5.00", "2026-03-01T10:00:00Z") is written as it is, so that a
// spreadsheet keeps reading it as a number or a time.
package csvsafe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s with a single quote (') before each start of the cell
// (its beginning, and just after each ';', where a spreadsheet in a ';'
// locale splits the line, inside the file's quotes too) from which a
// spreadsheet would read a formula, as formulaStart says. Removing the '
// at the beginning and just after each ';' gives s back.
func Text(s string) string {
	if !formulaStart(s) && strings.IndexByte(s, ';') < 0 {
		return s // most cells: no copy
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	for {
		if formulaStart(s) {
			b.WriteByte('\'')
		}
		i := strings.IndexByte(s, ';')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
	}
}

// formulaStart reports whether a ' goes before s, the rest of a cell from
// one of its starts: s begins with a ' or a " (so that the quotes added
// are told apart, and no quoted cell opens after a ';'), a tab or a
// carriage return, or its first character after any white space starts a
// formula (=, +, -, @, or their full-width forms, which spreadsheets in
// CJK locales read as formulas too).
func formulaStart(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '\'', '"', '\t', '\r':
		return true
	}
	r, _ := utf8.DecodeRuneInString(strings.TrimLeftFunc(s, unicode.IsSpace))
	switch r {
	case '=', '+', '-', '@', '＝', '＋', '－', '＠':
		return true
	}
	return false
}
