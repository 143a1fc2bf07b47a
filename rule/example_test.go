package rule_test

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/rule"
)

// The article's examples: a level reached today (24 November) with "1
// month-end" expires at 24:00 of next month's last day; with "1 month
// after", at 24:00 of the same day next month. 24:00 of day D is the
// instant D+1 00:00 in the program's zone.
func ExampleValidity_Expiry() {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	today := time.Date(2026, 11, 24, 15, 4, 0, 0, sh)
	for _, v := range []rule.Validity{
		{Kind: rule.MonthEnds, N: 1},
		{Kind: rule.MonthsAfter, N: 1},
		{Kind: rule.AnnualDate, Month: time.February, Day: 29},
		{Kind: rule.DaysAfter, N: 1},
		{Kind: rule.Permanent},
	} {
		end, ok := v.Expiry(today, sh)
		if !ok {
			fmt.Println(v.Kind, "never expires")
			continue
		}
		fmt.Println(v.Kind, end.Format("2006-01-02 15:04 MST"))
	}
	// Output:
	// month_ends 2027-01-01 00:00 CST
	// months_after 2026-12-25 00:00 CST
	// annual_date 2027-03-01 00:00 CST
	// days_after 2026-11-25 00:00 CST
	// permanent never expires
}
