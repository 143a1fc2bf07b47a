// Package jsonfields finds the keys of a decoded JSON document that a Go
// type has no field for, each at its path, all at once: what
// membership.ParseDefinition reports where encoding/json stops at the
// first unknown field, names it without its path, and matches names
// without regard to case. It knows nothing of the definition's types.
package jsonfields

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/memberkit/membership/rule"
)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Unknown adds to ps, in key order, a problem for each key of the
// decoded JSON value v that is not exactly the JSON name of a field of t,
// and goes into the fields it names, slices and maps; a type that decodes
// itself (a decimal, a time, a date) is its own business.
func Unknown(ps *rule.Problems, path string, t reflect.Type, v any) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		var fields map[string]reflect.Type
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
		default:
			return
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			ft := t
			if fields == nil {
				ft = t.Elem()
			} else if ft = fields[k]; ft == nil {
				ps.Addf(rule.Join(path, k), "unknown field")
				continue
			}
			Unknown(ps, rule.Join(path, k), ft, x[k])
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range x {
				Unknown(ps, rule.Join(path, fmt.Sprintf("[%d]", i)), t.Elem(), e)
			}
		}
	}
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
