package export_test

import "github.com/shopspring/decimal"

var decimalOne = decimal.NewFromInt(1)

func decimalOf(i int) decimal.Decimal { return decimal.NewFromInt(int64(i)) }
