package change_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store"
)

// Decode gives data that is no JSON, or that does not fit v, as damaged
// data (store.ErrCorrupt), and a v it cannot decode into as a bad argument
// (event.ErrInvalidArgument); the errors were encoding/json's alone.
func TestDecodeErrors(t *testing.T) {
	type payload struct {
		Amount string `json:"amount"`
	}
	var p payload
	if err := (change.Change{Seq: 1, Data: json.RawMessage(`{"amount":"5"}`)}).Decode(&p); err != nil || p.Amount != "5" {
		t.Fatalf("Decode = %v, %+v; want amount 5", err, p)
	}
	for name, data := range map[string]string{"no JSON": `{"amount":`, "wrong type": `{"amount":5}`, "none": ``} {
		if err := (change.Change{Seq: 2, Data: json.RawMessage(data)}).Decode(&p); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want an error wrapping store.ErrCorrupt", name, err)
		}
	}
	if err := (change.Change{Seq: 3, Data: json.RawMessage(`{}`)}).Decode(p); !errors.Is(err, event.ErrInvalidArgument) || errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Decode into a non-pointer = %v, want an error wrapping ErrInvalidArgument alone", err)
	}
}
