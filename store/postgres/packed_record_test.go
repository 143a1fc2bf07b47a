package postgres_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
)

// TestDamagedPackedRecord damages the store's record of its packed
// buckets ("\x00store"/"packed"), which said where a member's records
// are: read as it was, a name cut or left out made the records of that
// bucket answer not found (a balance read as zero). The record holds a
// checksum after the names; damaged, New fails with an error wrapping
// store.ErrCorrupt (and not store.ErrFailed, which a host retries). A
// record as a release before checksums wrote it (the names alone) is
// read as it was, when it is what that release wrote: its names in
// order (else New fails), all of the buckets Pack names (else Pack
// fails), and none only where no member's row is packed.
func TestDamagedPackedRecord(t *testing.T) {
	p := testPool(t)
	const sumForm = "\x01crc32c:[0-9a-f]{8}"
	// prepare makes a store that packs bal and txn (or, with used, one
	// whose bal held a record at Pack: it packs nothing) holding m1's
	// balance 10 and counter 3, and returns its schema.
	prepare := func(t *testing.T, used bool) string {
		t.Helper()
		schema := newSchema(t, p)
		s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		put := func(bucket, key, value string) {
			t.Helper()
			if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put(bucket, []byte(key), []byte(value)) }); err != nil {
				t.Fatal(err)
			}
		}
		if used {
			put("bal", "m0", "1")
		}
		if err := s.Pack("bal", "txn"); err != nil {
			t.Fatal(err)
		}
		put("bal", "m1", "10")
		put("txn", "m1", "3")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return schema
	}
	kv := func(schema string) string { return pgx.Identifier{schema, "kv"}.Sanitize() }
	record := func(t *testing.T, schema string) []byte {
		t.Helper()
		var v []byte
		if err := p.QueryRow(t.Context(), `SELECT value FROM `+kv(schema)+` WHERE bucket = $1 AND key = $2`, []byte("\x00store"), []byte("packed")).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	setRecord := func(t *testing.T, schema string, v []byte) {
		t.Helper()
		if _, err := p.Exec(t.Context(), `UPDATE `+kv(schema)+` SET value = $1 WHERE bucket = $2 AND key = $3`, v, []byte("\x00store"), []byte("packed")); err != nil {
			t.Fatal(err)
		}
	}
	// reads opens the schema, packs bal and txn as a Program would, and
	// returns m1's balance and counter, or the first error.
	reads := func(t *testing.T, schema string) (string, error) {
		t.Helper()
		s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema})
		if err != nil {
			return "", err
		}
		defer s.Close()
		if err := s.Pack("bal", "txn"); err != nil {
			return "", err
		}
		var got string
		err = s.View(t.Context(), func(tx store.Tx) error {
			b, err := tx.Get("bal", []byte("m1"))
			if err != nil {
				return err
			}
			c, err := tx.Get("txn", []byte("m1"))
			got = fmt.Sprintf("%s/%s", b, c)
			return err
		})
		return got, err
	}
	corrupt := func(t *testing.T, schema, what string) {
		t.Helper()
		got, err := reads(t, schema)
		if !errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrFailed) {
			t.Errorf("%s: %q, %v; want an error wrapping store.ErrCorrupt, not store.ErrFailed", what, got, err)
		}
	}

	schema := prepare(t, false)
	v := record(t, schema)
	if !regexp.MustCompile("^bal\x00txn\x00" + sumForm + "$").Match(v) {
		t.Fatalf("the record = %q; want bal, txn and the checksum", v)
	}
	if got, err := reads(t, schema); err != nil || got != "10/3" {
		t.Errorf("reads = %q, %v; want 10/3", got, err)
	}
	sum := v[len("bal\x00txn\x00"):]
	for _, c := range []struct {
		what string
		v    []byte
	}{
		{"txn left out", append([]byte("bal\x00"), sum...)},
		{"a name edited", append([]byte("bal\x00tx\x00"), sum...)},
		{"cut short by a byte", v[:len(v)-1]},
		{"the checksum cut off, a name cut", []byte("bal\x00tx")},
		{"names out of order", []byte("txn\x00bal")},
		{"an empty name", []byte("bal\x00\x00txn")},
		{"emptied", []byte{}},
	} {
		t.Run(c.what, func(t *testing.T) {
			schema := prepare(t, false)
			setRecord(t, schema, c.v)
			corrupt(t, schema, c.what)
		})
	}
	t.Run("written before checksums", func(t *testing.T) {
		schema := prepare(t, false)
		setRecord(t, schema, []byte("bal\x00txn"))
		if got, err := reads(t, schema); err != nil || got != "10/3" {
			t.Errorf("reads = %q, %v; want 10/3", got, err)
		}
	})
	t.Run("none, written before checksums", func(t *testing.T) {
		schema := prepare(t, true)
		if v := record(t, schema); !regexp.MustCompile("^" + sumForm + "$").Match(v) {
			t.Fatalf("the record of a store that packs nothing = %q; want the checksum alone", v)
		}
		setRecord(t, schema, []byte{})
		if got, err := reads(t, schema); err != nil || got != "10/3" {
			t.Errorf("reads = %q, %v; want 10/3", got, err)
		}
	})
}
