package membership

import (
	"encoding/json"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

// jsonAppender is a change payload that writes its own JSON: the payloads
// of every event's changes (growth, points) skip reflection. The result
// decodes like json.Marshal's; ok false means "use json.Marshal".
type jsonAppender interface {
	appendJSON(b []byte) (out []byte, ok bool)
}

// marshalData encodes a change payload.
func marshalData(data any) ([]byte, error) { return appendData(make([]byte, 0, 160), data) }

// appendData appends a change payload's JSON to b.
func appendData(b []byte, data any) ([]byte, error) {
	if a, ok := data.(jsonAppender); ok {
		if out, ok := a.appendJSON(b); ok {
			return out, nil
		}
	}
	raw, err := json.Marshal(data)
	return append(b, raw...), err
}

// jsonObject appends the fields of one JSON object.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(name string) {
	if len(o.b) == 0 || o.b[len(o.b)-1] != '{' {
		o.b = append(o.b, ',')
	}
	o.b = append(appendJSONString(o.b, name), ':')
}

func (o *jsonObject) str(name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(name)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) dec(name string, v decimal.Decimal, omitZero bool) {
	if omitZero && v.IsZero() {
		return
	}
	o.key(name)
	o.b = codec.AppendDecimal(append(o.b, '"'), v)
	o.b = append(o.b, '"')
}

func (o *jsonObject) time(name string, v time.Time, omitZero bool) {
	if omitZero && v.IsZero() {
		return
	}
	o.key(name)
	o.b = append(o.b, '"')
	o.b = v.AppendFormat(o.b, time.RFC3339Nano)
	o.b = append(o.b, '"')
}

// encode appends c's JSON (for txn.emitWith).
func (c *GrowthChange) encode(b []byte) ([]byte, error) {
	b, _ = c.appendJSON(b) // always ok
	return b, nil
}

func (c GrowthChange) appendJSON(b []byte) ([]byte, bool) {
	o := jsonObject{append(b, '{')}
	o.dec("amount", c.Amount, false)
	o.dec("balance", c.Balance, false)
	o.dec("lifetime", c.Lifetime, false)
	o.str("kind", string(c.Kind), false)
	o.str("rule", c.Rule, true)
	o.dec("shortfall", c.Shortfall, true)
	return append(o.b, '}'), true
}

// encode appends c's JSON (for txn.emitWith), by reflection for the
// rare kinds appendJSON leaves to it.
func (c *PointsChange) encode(b []byte) ([]byte, error) {
	if out, ok := c.appendJSON(b); ok {
		return out, nil
	}
	raw, err := json.Marshal(*c) // a copy: c itself stays where it is
	return append(b, raw...), err
}

func (c PointsChange) appendJSON(b []byte) ([]byte, bool) {
	if c.Lots != nil || c.Split != nil || c.Adjustment != nil {
		return nil, false // the rare kinds: reflection
	}
	o := jsonObject{append(b, '{')}
	o.str("program", c.Program, false)
	o.dec("amount", c.Amount, false)
	o.str("lot", c.Lot, true)
	o.time("expires", c.Expires, true)
	o.str("ref", c.Ref, true)
	o.str("date", c.Date, true)
	o.dec("wanted", c.Wanted, true)
	o.dec("shortfall", c.Shortfall, true)
	o.str("to", c.To, true)
	o.dec("to_amount", c.ToAmount, true)
	o.str("operator", c.Operator, true)
	return append(o.b, '}'), true
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control bytes are escaped, everything else is copied as is.
func appendJSONString(b []byte, s string) []byte {
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
