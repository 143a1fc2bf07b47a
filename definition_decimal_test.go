package membership_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store/memory"
)

// A definition whose decimals are written with trailing zeros ("1.0",
// "0.070") is the same definition as one without ("1", "0.07"): reopened
// under the same version with either, the program opens. A really
// different value under that version is still ErrDefinitionConflict.
func TestDefinitionDecimalsCompareByValue(t *testing.T) {
	const doc = `{"version":1,"zone":"Asia/Tokyo","events":[{"name":"recharge","attributes":[{"name":"amount","type":"decimal","required":true}]}],` +
		`"stored_value":{"recharge":"recharge","amount":"amount"},` +
		`"points":{"programs":[{"name":"mall","payment":{"rate":"0.07","max_share":"0.33"}}]},` +
		`"coupons":{"templates":[{"name":"ten-off","type":"discount","rate":"0.9","cap":"20","use":{"validity":{"kind":"days_after","n":7}}}]}}`
	parse := func(doc string) membership.Definition {
		t.Helper()
		def, err := membership.ParseDefinition([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	zeros := strings.NewReplacer(`"0.07"`, `"0.070"`, `"0.9"`, `"0.90"`, `"20"`, `"20.0"`).Replace(doc)
	if zeros == doc {
		t.Fatal("the replacer changed nothing")
	}
	st := memory.New()
	if _, err := membership.Open(st, parse(doc)); err != nil {
		t.Fatal(err)
	}
	if _, err := membership.Open(st, parse(zeros)); err != nil {
		t.Errorf("the definition with trailing zeros under the same version: %v; want it to open", err)
	}
	if _, err := membership.Open(st, parse(doc)); err != nil {
		t.Errorf("the definition as first written, again: %v; want it to open", err)
	}
	st2 := memory.New()
	if _, err := membership.Open(st2, parse(zeros)); err != nil {
		t.Fatal(err)
	}
	if _, err := membership.Open(st2, parse(doc)); err != nil {
		t.Errorf("the definition without trailing zeros, over one with them: %v; want it to open", err)
	}
	other := strings.Replace(doc, `"0.07"`, `"0.08"`, 1)
	if _, err := membership.Open(st, parse(other)); !errors.Is(err, membership.ErrDefinitionConflict) {
		t.Errorf("a rate of 0.08 under the same version: %v; want ErrDefinitionConflict", err)
	}
}
