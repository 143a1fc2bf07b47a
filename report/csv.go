package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/memberkit/membership/internal/csvsafe"
	"github.com/shopspring/decimal"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"period", "section", "name", "figure", "value"}

// WriteCSV writes the report as CSV in long form, a row per figure: the
// period (Period.Name: "2006-01-02", "2025-W01", "2006-01" or "2006"),
// the section (levels, points, coupons, value, tasks), the name it is
// about (a level, a point program, a template, a task; empty for a
// section's own figures), the figure and its value (an integer, or a
// decimal as the ledger keeps it). Rows come period by period, in the
// order of the Go values. A spreadsheet's pivot table makes any wide view
// of it.
//
// The name is the definition's text, and a spreadsheet must not run it: the
// period and name cells are protected against spreadsheet formulas as
// package export's text cells are (a ' before =, +, -, @ and the like, at
// the cell's start and after each ';'; see that package's documentation,
// "CSV"). The values are numbers, written as they are ("-5", never "'-5").
// A nil w (or a nil r) wraps ErrInvalidArgument, and nothing is written.
func (r *Report) WriteCSV(w io.Writer) error {
	switch {
	case w == nil:
		return fmt.Errorf("report: write csv: %w: w: nil writer", ErrInvalidArgument)
	case r == nil:
		return fmt.Errorf("report: write csv: %w: nil report", ErrInvalidArgument)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, p := range r.Periods {
		row := func(section, name, figure, v string) {
			_ = cw.Write([]string{csvsafe.Text(p.Name), section, csvsafe.Text(name), figure, v}) // errors stay in cw, checked at Flush
		}
		n := func(section, name, figure string, v int64) { row(section, name, figure, strconv.FormatInt(v, 10)) }
		d := func(section, name, figure string, v decimal.Decimal) { row(section, name, figure, v.String()) }
		if lv := p.Levels; lv != nil {
			for _, c := range lv.Members {
				n("levels", c.Name, "members", c.Members)
			}
			n("levels", "", "joins", lv.Joins)
			n("levels", "", "upgrades", lv.Upgrades)
			n("levels", "", "downgrades", lv.Downgrades)
		}
		for _, pt := range p.Points {
			d("points", pt.Program, "opening", pt.Opening)
			d("points", pt.Program, "issued", pt.Issued)
			d("points", pt.Program, "redeemed", pt.Redeemed)
			d("points", pt.Program, "expired", pt.Expired)
			d("points", pt.Program, "other", pt.Other)
			d("points", pt.Program, "outstanding", pt.Outstanding)
			if pt.HasRate {
				d("points", pt.Program, "rate", pt.Rate)
				d("points", pt.Program, "liability", pt.Liability)
			}
		}
		for _, c := range p.Coupons {
			n("coupons", c.Template, "issued", c.Issued)
			n("coupons", c.Template, "used", c.Used)
			n("coupons", c.Template, "expired", c.Expired)
			n("coupons", c.Template, "revoked", c.Revoked)
			d("coupons", c.Template, "amount_off", c.AmountOff)
		}
		if v := p.Value; v != nil {
			d("value", "", "opening", v.Opening)
			d("value", "", "recharged", v.Recharged)
			d("value", "", "spent", v.Spent)
			d("value", "", "refunded", v.Refunded)
			d("value", "", "withdrawn", v.Withdrawn)
			d("value", "", "other", v.Other)
			d("value", "", "float", v.Float)
		}
		for _, t := range p.Tasks {
			n("tasks", t.Task, "completions", t.Completions)
		}
	}
	cw.Flush()
	return cw.Error()
}
