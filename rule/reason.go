package rule

import "github.com/shopspring/decimal"

// Reason says why an effect happened, for outcomes and statements: the rule
// (its ID), the formula text and its inputs by name, the raw amount before
// rounding and caps, the cap that cut it (nil when none did), and a free note.
type Reason struct {
	Rule    string            `json:"rule,omitempty"`
	Formula string            `json:"formula,omitempty"`
	Inputs  map[string]string `json:"inputs,omitempty"`
	Raw     decimal.Decimal   `json:"raw,omitzero"`
	Cut     *Cut              `json:"cut,omitempty"`
	Note    string            `json:"note,omitempty"`
}
