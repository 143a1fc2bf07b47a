package membership_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// filler sets every field of a value, however deep, to a value of its own
// (n counts them), or, with zero set, every pointer, list and map to one
// element holding zero values: what a field the JSON leaves out or cannot
// carry would lose. A field it cannot reach (unexported, an interface)
// fails the test: a definition is data.
type filler struct {
	t    *testing.T
	n    int
	zero bool
}

func (f *filler) fill(v reflect.Value, path string) {
	f.n++
	n := f.n
	switch v.Interface().(type) {
	case decimal.Decimal:
		if !f.zero {
			v.Set(reflect.ValueOf(decimal.New(int64(n)*125, -2)))
		}
		return
	case time.Time:
		if !f.zero {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 10, 0, n, 500, time.UTC)))
		}
		return
	case rule.Date:
		if !f.zero {
			v.Set(reflect.ValueOf(rule.Date{Year: 2026, Month: time.Month(n%12 + 1), Day: n%28 + 1}))
		}
		return
	case time.Month:
		if !f.zero {
			v.Set(reflect.ValueOf(time.Month(n%12 + 1)))
		}
		return
	case event.Value:
		// A value holds what its kind says: each kind in turn.
		vals := []event.Value{event.Str(fmt.Sprint("s", n)), event.Dec(decimal.New(int64(n), -1)), event.Int(int64(n)),
			event.Flag(true), event.At(time.Date(2026, 1, 2, 3, 4, 5, n, time.UTC)), event.List("a", fmt.Sprint(n))}
		if !f.zero {
			v.Set(reflect.ValueOf(vals[n%len(vals)]))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.t.Errorf("%s.%s: unexported field, not in the JSON", path, sf.Name)
				continue
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	case reflect.Slice:
		k := 2
		if f.zero {
			k = 1
		}
		v.Set(reflect.MakeSlice(v.Type(), k, k))
		for i := range k {
			f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		f.fill(k, path+"{key}")
		f.fill(e, path+"{value}")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		if !f.zero {
			v.SetString(fmt.Sprint("s", n))
		}
	case reflect.Bool:
		v.SetBool(!f.zero)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !f.zero {
			v.SetInt(int64(n%100 + 1))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !f.zero {
			v.SetUint(uint64(n%100 + 1))
		}
	default:
		f.t.Errorf("%s: a %s, which the filler does not know", path, v.Kind())
	}
}

// roundTrip checks that def comes back from its JSON unchanged.
func roundTrip(t *testing.T, name string, def membership.Definition) {
	t.Helper()
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	var got membership.Definition
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: unmarshal: %v\n%s", name, err, raw)
	}
	if diff := cmp.Diff(def, got); diff != "" {
		t.Errorf("%s: Go → JSON → Go (-want +got):\n%s", name, diff)
	}
	// Open records the SHA-256 of this encoding with the version: the
	// definition read back must encode to the same bytes, or a host
	// opening its stored copy under the same version would be refused
	// with ErrDefinitionConflict.
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: marshal again: %v", name, err)
	}
	if sha256.Sum256(again) != sha256.Sum256(raw) {
		t.Errorf("%s: encodes to another fingerprint once read back:\n%s\n%s", name, raw, again)
	}
	// Every field Go writes is one ParseDefinition takes: what it reports
	// of the document is validation, never an unknown field.
	_, err = membership.ParseDefinition(raw)
	var ps *rule.Problems
	if errors.As(err, &ps) {
		for _, p := range ps.List {
			if strings.HasSuffix(p.Error(), "unknown field") {
				t.Errorf("%s: ParseDefinition refuses what Marshal wrote: %v", name, p)
			}
		}
	} else if err != nil {
		t.Errorf("%s: ParseDefinition of what Marshal wrote: %v", name, err)
	}
}

// Every field of every part of a definition survives Go → JSON → Go: the
// definition with each field set to a value of its own, and with each
// pointer, list and map holding zero values (a scale of 0 is not an
// unset one); the examples' programs and the tests' fixtures. Validity is
// not the point: encoding/json decodes what the definition's types hold,
// valid or not.
func TestDefinitionJSONRoundTripEveryField(t *testing.T) {
	for _, zero := range []bool{false, true} {
		var def membership.Definition
		f := &filler{t: t, zero: zero}
		f.fill(reflect.ValueOf(&def).Elem(), "Definition")
		if f.n < 300 {
			t.Errorf("filled %d values: the filler missed most of the definition", f.n)
		}
		roundTrip(t, fmt.Sprintf("every field (zero values: %v)", zero), def)
	}
	for _, name := range []string{"retail", "tourism", "import"} {
		raw, err := os.ReadFile(filepath.Join("examples", name, "program.json"))
		if err != nil {
			t.Fatal(err)
		}
		def, err := membership.ParseDefinition(raw)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, name, def)
	}
	roundTrip(t, "ValueDef", testkit.ValueDef())
	roundTrip(t, "OrderDef", testkit.OrderDef())
	for _, mode := range []level.DowngradeMode{level.NextLower, level.Matching, level.Lowest} {
		roundTrip(t, "LadderDef "+string(mode), testkit.LadderDef(mode))
	}
}

// A program written in Go and the same program read back from its JSON
// (as a host keeps it in its back office) are one definition to the
// store: opened under the same version on the same store, the second
// Open is accepted, not refused with ErrDefinitionConflict. A field the
// JSON changed would change the fingerprint Open compares.
func TestDefinitionFromItsJSONIsTheSameVersion(t *testing.T) {
	for name, def := range map[string]membership.Definition{
		"ValueDef": testkit.ValueDef(), "OrderDef": testkit.OrderDef(), "LadderDef": testkit.LadderDef(level.Matching),
	} {
		def.Version = 3
		st := memory.New()
		if _, err := membership.Open(st, def); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		back, err := membership.ParseDefinition(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := membership.Open(st, back); err != nil {
			t.Errorf("%s: Open with the definition read back from its JSON: %v", name, err)
		}
		// The check is real: a change of content under version 3 is not.
		back.Zone = "UTC"
		if _, err := membership.Open(st, back); !errors.Is(err, membership.ErrDefinitionConflict) {
			t.Errorf("%s: Open with another zone under the same version: %v, want ErrDefinitionConflict", name, err)
		}
	}
}
