// Package jsonfields checks a JSON document against the Go type it is
// decoded into, reporting every problem at once, each at its path: the
// keys the type has no field for, the values its fields cannot hold, and
// the keys an object repeats. It is what membership.ParseDefinition
// reports where encoding/json stops at the first unknown field or
// mistyped value, names it without its path (levels.ladder.window for
// levels.ladder[1].window), matches names without regard to case, and
// keeps the last of two values of one key without a word. It knows
// nothing of the definition's types.
package jsonfields

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/memberkit/membership/rule"
)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// maxDepth is how deeply Decode lets a document nest, as encoding/json
// does.
const maxDepth = 10000

// Decode decodes a JSON document as a json.Decoder using numbers decodes
// it into an any (map[string]any, []any, string, json.Number, bool, nil),
// and adds to ps, at its path, each key that an object repeats
// ("duplicate key": encoding/json keeps the last value and drops the
// others). It reads the first value of data only; an error is the
// document's syntax.
func Decode(ps *rule.Problems, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return decode(ps, dec, "", 0)
}

func decode(ps *rule.Problems, dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("document nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := tok.(string) // the decoder gives an object's keys as strings
			p := rule.Join(path, k)
			v, err := decode(ps, dec, p, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				ps.Addf(p, "duplicate key")
			}
			m[k] = v
		}
		_, err := dec.Token()
		return m, err
	case json.Delim('['):
		l := []any{}
		for i := 0; dec.More(); i++ {
			v, err := decode(ps, dec, rule.Join(path, fmt.Sprintf("[%d]", i)), depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token()
		return l, err
	}
	return tok, nil
}

// Check adds to ps, in key order, a problem for each key of the decoded
// JSON value v (as Decode gives it) that is not exactly the JSON name of
// a field of t ("unknown field"), and for each value that encoding/json
// would refuse for its field: a string for a number, a fraction or an
// out-of-range number for an integer, a list for an object, a decimal
// that does not parse (a type that decodes itself says why). It goes
// into the fields the keys name, lists and pointers. A null is what
// encoding/json takes it for: no value.
func Check(ps *rule.Problems, path string, t reflect.Type, v any) {
	if v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		leaf(ps, path, t, v)
		return
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		x, ok := v.(map[string]any)
		if !ok {
			ps.Addf(path, "want an object, got %s", describe(v))
			return
		}
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			ft := t
			if fields == nil {
				ft = t.Elem()
			} else if ft = fields[k]; ft == nil {
				ps.Addf(rule.Join(path, k), "unknown field")
				continue
			}
			Check(ps, rule.Join(path, k), ft, x[k])
		}
	case reflect.Slice, reflect.Array:
		x, ok := v.([]any)
		if !ok {
			ps.Addf(path, "want a list, got %s", describe(v))
			return
		}
		for i, e := range x {
			Check(ps, rule.Join(path, fmt.Sprintf("[%d]", i)), t.Elem(), e)
		}
	default:
		leaf(ps, path, t, v)
	}
}

// leaf checks a value that is not an object or a list of the type: it
// decodes the value into one of type t as encoding/json would into the
// field, and reports why it could not.
func leaf(ps *rule.Problems, path string, t reflect.Type, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		ps.Add(path, err)
		return
	}
	err = json.Unmarshal(raw, reflect.New(t).Interface())
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		ps.Addf(path, "want %s, got %s", want(t, v), describe(v))
	default:
		ps.Add(path, err) // a type that decodes itself says why
	}
}

// want says what a value of type t is written as, to one who wrote v:
// the range of an integer to one who wrote a number.
func want(t reflect.Type, v any) string {
	_, number := v.(json.Number)
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !number {
			return "a whole number"
		}
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !number {
			return "a whole number"
		}
		return fmt.Sprintf("a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

// describe names a decoded JSON value for a problem.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "the number " + x.String()
	case bool:
		return fmt.Sprint(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonFields returns the fields of struct type t by the names
// encoding/json writes them under.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-":
			continue
		case f.Anonymous && tag == "":
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				maps.Copy(out, jsonFields(ft)) // promoted fields
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
