package bolt

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodePack decodes arbitrary payloads as the pack of group "m1" in
// a layout of three buckets: it returns an error wrapping ErrCorrupt or
// records in order, of known tags, whose keys are the group's, and which
// encode back to the payload; it never panics. (A pack's checksum is
// checked before it is decoded; this is what a payload that passed it by
// chance, or one a faulty writer sealed, would do.)
func FuzzDecodePack(f *testing.F) {
	lay := (*layout)(nil).with([]string{"a", "b", "c"})
	group := []byte("m1")
	valid := encodePack(nil, group, []packEntry{
		{tag: 1, key: []byte("m1"), value: []byte("v")},
		{tag: 1, key: []byte("m1\x00x"), value: nil},
		{tag: 3, key: []byte("m1\x00y\x00z"), value: bytes.Repeat([]byte("w"), 200)},
	})
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0})                // an unknown tag
	f.Add([]byte{1, 1, 'x', 0})           // a tail that does not start with 0x00
	f.Add([]byte{1, 0, 0, 1, 0, 0})       // the same record twice
	f.Add([]byte{2, 0, 0, 1, 0, 0})       // out of order
	f.Add([]byte{1, 0, 0xff, 0xff, 0x7f}) // a value longer than the payload
	f.Fuzz(func(t *testing.T, payload []byte) {
		es, err := decodePack(nil, group, payload, lay)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodePack(%x) = %v; want an error wrapping ErrCorrupt", payload, err)
			}
			return
		}
		for i := range es {
			if _, _, ok := lay.bucketOf(es[i].tag); !ok || !bytes.Equal(groupOf(es[i].key), group) {
				t.Fatalf("decodePack(%x): record %d = tag %d, key %q", payload, i, es[i].tag, es[i].key)
			}
			if i > 0 && es[i-1].less(&es[i]) >= 0 {
				t.Fatalf("decodePack(%x): records %d and %d out of order", payload, i-1, i)
			}
		}
		// Records encode back to what decodes as the same records (the
		// payload may have had lengths encoded longer than needed).
		again, err := decodePack(nil, group, encodePack(nil, group, es), lay)
		if err != nil || len(again) != len(es) {
			t.Fatalf("decodePack(encodePack(%x)) = %d records, %v; want %d", payload, len(again), err, len(es))
		}
		for i := range es {
			if again[i].tag != es[i].tag || !bytes.Equal(again[i].key, es[i].key) || !bytes.Equal(again[i].value, es[i].value) {
				t.Fatalf("decodePack(encodePack(%x)): record %d = %v; want %v", payload, i, again[i], es[i])
			}
		}
	})
}
