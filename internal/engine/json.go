package engine

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

// JSONAppender is a change payload that writes its own JSON: the payloads
// of every event's changes (growth, points) skip reflection. The result
// must decode like json.Marshal's; ok false means "use json.Marshal".
type JSONAppender interface {
	AppendJSON(b []byte) (out []byte, ok bool)
}

// MarshalData encodes a change or due item payload.
func MarshalData(data any) ([]byte, error) { return AppendData(make([]byte, 0, 160), data) }

// AppendData appends a payload's JSON to b.
func AppendData(b []byte, data any) ([]byte, error) {
	if a, ok := data.(JSONAppender); ok {
		if out, ok := a.AppendJSON(b); ok {
			return out, nil
		}
	}
	raw, err := json.Marshal(data)
	return append(b, raw...), err
}

// JSONObject appends the fields of one JSON object to B, which starts with
// the object's '{'; the caller appends the closing '}'.
type JSONObject struct{ B []byte }

func (o *JSONObject) key(name string) {
	if len(o.B) == 0 || o.B[len(o.B)-1] != '{' {
		o.B = append(o.B, ',')
	}
	o.B = append(AppendJSONString(o.B, name), ':')
}

// Str appends a string field (none when empty and omitEmpty).
func (o *JSONObject) Str(name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(name)
	o.B = AppendJSONString(o.B, v)
}

// Dec appends a decimal field as a JSON string, as decimal.Decimal
// marshals (none when zero and omitZero).
func (o *JSONObject) Dec(name string, v decimal.Decimal, omitZero bool) {
	if omitZero && v.IsZero() {
		return
	}
	o.key(name)
	o.B = codec.AppendDecimal(append(o.B, '"'), v)
	o.B = append(o.B, '"')
}

// Bool appends a boolean field (none when false and omitEmpty).
func (o *JSONObject) Bool(name string, v, omitEmpty bool) {
	if omitEmpty && !v {
		return
	}
	o.key(name)
	o.B = strconv.AppendBool(o.B, v)
}

// Int appends an integer field (none when zero and omitEmpty).
func (o *JSONObject) Int(name string, v int64, omitEmpty bool) {
	if omitEmpty && v == 0 {
		return
	}
	o.key(name)
	o.B = strconv.AppendInt(o.B, v, 10)
}

// Uint appends an unsigned integer field (none when zero and omitEmpty).
func (o *JSONObject) Uint(name string, v uint64, omitEmpty bool) {
	if omitEmpty && v == 0 {
		return
	}
	o.key(name)
	o.B = strconv.AppendUint(o.B, v, 10)
}

// Time appends a time field in RFC 3339 (none when zero and omitZero).
func (o *JSONObject) Time(name string, v time.Time, omitZero bool) {
	if omitZero && v.IsZero() {
		return
	}
	o.key(name)
	o.B = append(o.B, '"')
	o.B = v.AppendFormat(o.B, time.RFC3339Nano)
	o.B = append(o.B, '"')
}

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control bytes are escaped, everything else is copied as is.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // runs that need no escaping are copied whole
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		if c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, '\\', c)
		}
		start = i + 1
	}
	return append(append(b, s[start:]...), '"')
}
