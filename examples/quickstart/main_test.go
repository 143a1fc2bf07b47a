package main

import (
	"bytes"
	"context"
	"testing"
)

// The quick start runs as pasted and prints what README says it prints.
func TestQuickStart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	// 520 yuan at one growth point per yuan crosses Gold's 500. Gold's
	// validity is the month-end one month after the start's month: 24:00
	// on 31 December, printed as 2027-01-01 00:00 in Shanghai. One point
	// per yuan, available at once.
	want := "order-1 granted 520 growth and reached Gold\nGold until 2027-01-01 00:00:00\n520 points\n"
	if out.String() != want {
		t.Errorf("quick start printed\n%s\nwant\n%s", out.String(), want)
	}
}
