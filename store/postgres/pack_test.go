package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/store/storetest"
)

// The conformance suite on stores that pack the buckets it uses: every
// key of theirs that does not begin with 0x00 is kept in its member's
// row, and the suite's reads, writes, scans and conflicts answer as on
// any store.
func TestPackedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openStore(t, nil)
		if err := s.Pack("b", "e", "m", "c", "i", "a", "t", "x", "pair", "counter", "bank", "booking", "empty", "nobucket"); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// rawRows returns the table's rows as bucket/key, in key order.
func rawRows(t *testing.T, schema string) []string {
	t.Helper()
	rows, err := testPool(t).Query(t.Context(), `SELECT bucket, key FROM `+pgx.Identifier{schema, "kv"}.Sanitize()+` ORDER BY bucket, key`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var b, k []byte
		if err := rows.Scan(&b, &k); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q/%q", b, k))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// A member's records of the packed buckets are one row; a pool's key
// (from 0x00) is a row of its own; reads and scans across members, in
// both directions, answer as before; the row goes with the member's last
// record; a Store opening the schema later keeps the layout, and Pack of
// buckets that hold records packs nothing.
func TestPackKeepsAMembersRecordsInOneRow(t *testing.T) {
	p := testPool(t)
	schema := newSchema(t, p)
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Pack("bal", "txn"); err != nil {
		t.Fatal(err)
	}
	put := func(bucket string, kv ...string) {
		t.Helper()
		err := s.Update(t.Context(), func(tx store.Tx) error {
			for i := 0; i < len(kv); i += 2 {
				if err := tx.Put(bucket, []byte(kv[i]), []byte(kv[i+1])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("bal", "m1\x00growth", "10", "m1\x00points", "5", "m2\x00points", "7", "\x00pool\x00points", "-12", "m10\x00points", "1")
	put("txn", "m1", "3", "m2", "1")
	put("other", "m1", "x")
	want := []string{
		`"\x00pack"/"m1"`, `"\x00pack"/"m10"`, `"\x00pack"/"m2"`,
		`"\x00store"/"packed"`,
		`"bal"/"\x00pool\x00points"`,
		`"other"/"m1"`,
	}
	if got := rawRows(t, schema); !slices.Equal(got, want) {
		t.Errorf("rows %q; want %q", got, want)
	}
	scan := func(tx store.Tx, bucket string, start, end []byte, reverse bool, limit int) []string {
		t.Helper()
		var got []string
		err := tx.Scan(bucket, start, end, reverse, func(k, v []byte) error {
			got = append(got, fmt.Sprintf("%q=%s", k, v))
			if len(got) == limit {
				return store.StopScan
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := []string{`"\x00pool\x00points"=-12`, `"m1\x00growth"=10`, `"m1\x00points"=5`, `"m10\x00points"=1`, `"m2\x00points"=7`}
	for _, c := range []struct {
		start, end string
		reverse    bool
		limit      int
		want       []string
	}{
		{"", "", false, 0, all},
		{"", "", true, 0, []string{all[4], all[3], all[2], all[1], all[0]}},
		{"m1\x00", "m1\x01", false, 0, all[1:3]}, // one member's
		{"m1\x00", "m1\x01", true, 1, all[2:3]},  // its last
		{"\x00", "m1\x00h", false, 0, all[0:2]},  // a pool's and a member's
		{"m1\x00p", "m2", false, 0, all[2:4]},    // across members
		{"m10", "", true, 2, []string{all[4], all[3]}},
		{"", "", false, 2, all[0:2]}, // StopScan in the member part
		{"", "", true, 5, []string{all[4], all[3], all[2], all[1], all[0]}},
	} {
		var end []byte
		if c.end != "" {
			end = []byte(c.end)
		}
		err := s.View(t.Context(), func(tx store.Tx) error {
			if got := scan(tx, "bal", []byte(c.start), end, c.reverse, c.limit); !slices.Equal(got, c.want) {
				t.Errorf("Scan(%q, %q, reverse %v, limit %d) = %q; want %q", c.start, c.end, c.reverse, c.limit, got, c.want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A second Store on the schema follows the layout; Pack changes nothing.
	s2, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if err := s2.Pack("other"); err != nil {
		t.Fatal(err)
	}
	err = s2.Update(t.Context(), func(tx store.Tx) error {
		if v, err := tx.Get("bal", []byte("m1\x00points")); err != nil || string(v) != "5" {
			t.Errorf("Get m1's points = %q, %v; want 5", v, err)
		}
		if v, err := tx.Get("txn", []byte("m2")); err != nil || string(v) != "1" {
			t.Errorf("Get m2's counter = %q, %v; want 1", v, err)
		}
		if _, err := tx.Get("bal", []byte("m3\x00points")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of an absent member's key: %v; want ErrNotFound", err)
		}
		for _, k := range []string{"m2\x00points"} {
			if err := tx.Delete("bal", []byte(k)); err != nil {
				return err
			}
		}
		return tx.Delete("txn", []byte("m2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rawRows(t, schema); slices.Contains(got, `"\x00pack"/"m2"`) {
		t.Errorf("rows %q: m2's row kept after its last record went", got)
	}

	// An Insert of a key its member's row holds fails as on any store: a
	// conflict each run, then ErrConflict, the record as it was.
	s4, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s4.Close() })
	err = s4.Update(t.Context(), func(tx store.Tx) error {
		return tx.(store.Inserter).Insert("bal", []byte("m1\x00points"), []byte("99"))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Insert of a packed key that exists: %v; want ErrConflict", err)
	}
	err = s4.View(t.Context(), func(tx store.Tx) error {
		if v, err := tx.Get("bal", []byte("m1\x00points")); err != nil || string(v) != "5" {
			t.Errorf("after the Insert, m1's points = %q, %v; want 5", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Buckets that hold records are not packed.
	s3 := openStore(t, nil)
	err = s3.Update(t.Context(), func(tx store.Tx) error { return tx.Put("bal", []byte("m1\x00points"), []byte("1")) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Pack("bal"); err != nil {
		t.Fatal(err)
	}
	err = s3.Update(context.Background(), func(tx store.Tx) error { return tx.Put("bal", []byte("m2\x00points"), []byte("2")) })
	if err != nil {
		t.Fatal(err)
	}
	err = s3.View(t.Context(), func(tx store.Tx) error {
		if got := scan(tx, "bal", nil, nil, false, 0); !slices.Equal(got, []string{`"m1\x00points"=1`, `"m2\x00points"=2`}) {
			t.Errorf("unpacked store: %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A Program on PostgreSQL keeps a member's balances, transaction counter
// and erasure mark in one row (store.Packer): orders for two members, an
// erasure of one, and the balances, the ledger's check and the erased
// member's refusal hold as on any store.
func TestProgramPacksMemberRecords(t *testing.T) {
	ctx := context.Background()
	prog, _, schema := openOrderProgram(t)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, prog.Location())
	order := func(id, member, amount string) error {
		_, err := prog.Process(ctx, mevent.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString(amount)}})
		return err
	}
	for i, m := range []string{"m1", "m2", "m1"} {
		if err := order(fmt.Sprint("o", i), m, "100"); err != nil {
			t.Fatal(err)
		}
	}
	rows := rawRows(t, schema)
	for _, want := range []string{`"\x00pack"/"m1"`, `"\x00pack"/"m2"`} {
		if !slices.Contains(rows, want) {
			t.Errorf("rows %q; want %s among them", rows, want)
		}
	}
	for _, r := range rows {
		if strings.HasPrefix(r, `"ledger.bal"/"m`) || strings.HasPrefix(r, `"ledger.txn"/`) || strings.HasPrefix(r, `"erased"/`) {
			t.Errorf("row %s: a member's balance, counter or erasure mark kept apart", r)
		}
	}
	growth := func(m string) decimal.Decimal {
		t.Helper()
		b, err := prog.Balance(ctx, ledger.MemberAccount(m, ledger.Growth, ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if g1, g2 := growth("m1"), growth("m2"); !g1.Equal(decimal.NewFromInt(200)) || !g2.Equal(decimal.NewFromInt(100)) {
		t.Errorf("growth m1 %s, m2 %s; want 200 and 100", g1, g2)
	}
	if _, err := prog.Erase(ctx, membership.EraseRequest{RequestID: "erase-1", Member: "m1", Operator: "op", At: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, erased, err := prog.Erased(ctx, "m1"); err != nil || !erased {
		t.Errorf("Erased(m1) = %v, %v; want true", erased, err)
	}
	if err := order("o9", "m1", "100"); !errors.Is(err, membership.ErrErased) {
		t.Errorf("an order of the erased member: %v; want ErrErased", err)
	}
	if err := order("o10", "m2", "50"); err != nil {
		t.Fatal(err)
	}
	if g := growth("m2"); !g.Equal(decimal.NewFromInt(150)) {
		t.Errorf("growth m2 %s; want 150", g)
	}
	if err := prog.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// Goroutines that each add to a record of their own in one member's row
// lose no addition: each Update reads the row and writes it whole, so
// two that run at once conflict and one runs again.
func TestPackedRowKeepsEveryWrite(t *testing.T) {
	s := openStore(t, &postgres.Options{MaxAttempts: 10_000})
	if err := s.Pack("c"); err != nil {
		t.Fatal(err)
	}
	const writers, adds = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			key := []byte(fmt.Sprintf("m1\x00r%d", w))
			for range adds {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					v, err := tx.Get("c", key)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					n := 0
					if v != nil {
						fmt.Sscan(string(v), &n)
					}
					return tx.Put("c", key, fmt.Append(nil, n+1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	err := s.View(t.Context(), func(tx store.Tx) error {
		n := 0
		err := tx.Scan("c", []byte("m1\x00"), []byte("m1\x01"), false, func(k, v []byte) error {
			n++
			if string(v) != fmt.Sprint(adds) {
				t.Errorf("%q = %s; want %d", k, v, adds)
			}
			return nil
		})
		if n != writers {
			t.Errorf("%d records; want %d", n, writers)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A packed row damaged in the table (here by SQL) is an error wrapping
// store.ErrCorrupt for every read and write of its records, whichever
// record is asked for, never "not found" or a record out of place; the
// other members' rows read as before, and a write to the damaged row
// leaves it as it is.
func TestDamagedPackedRow(t *testing.T) {
	p := testPool(t)
	schema := newSchema(t, p)
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Pack("bal"); err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		for _, kv := range [][2]string{{"m1\x00a", "1"}, {"m1\x00b", "2"}, {"m2\x00a", "3"}} {
			if err := tx.Put("bal", []byte(kv[0]), []byte(kv[1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kv := pgx.Identifier{schema, "kv"}.Sanitize()
	row := func() string {
		t.Helper()
		var v []byte
		err := p.QueryRow(t.Context(), `SELECT value FROM `+kv+` WHERE bucket = $1 AND key = $2`, []byte("\x00pack"), []byte("m1")).Scan(&v)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	// A record is three lengths, each before its bytes: the bucket, the
	// key past the member ID, the value; the row is a version byte (1)
	// and its records in order.
	const recA, recB = "\x03bal\x02\x00a\x011", "\x03bal\x02\x00b\x012"
	if got, want := row(), "\x01"+recA+recB; got != want {
		t.Fatalf("m1's row %q; want %q", got, want)
	}
	for _, c := range []struct{ name, row string }{
		{"out of order", "\x01" + recB + recA},
		{"the same record twice", "\x01" + recA + recA},
		{"a key of another member", "\x01" + recB + "\x03bal\x01x\x011"}, // m1 + "x" is member m1x's
		{"no record", "\x01"},
		{"cut short", "\x01" + recA + recB[:len(recB)-1]},
		{"another version", "\x02" + recA + recB},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag, err := p.Exec(t.Context(), `UPDATE `+kv+` SET value = $1 WHERE bucket = $2 AND key = $3`, []byte(c.row), []byte("\x00pack"), []byte("m1"))
			if err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("UPDATE: %v, %d rows", err, tag.RowsAffected())
			}
			corrupt := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("%s: %v; want an error wrapping ErrCorrupt", what, err)
				}
			}
			scan := func(tx store.Tx, start, end []byte, reverse bool) error {
				return tx.Scan("bal", start, end, reverse, func(_, _ []byte) error { return nil })
			}
			err = s.View(t.Context(), func(tx store.Tx) error {
				for _, k := range []string{"m1\x00a", "m1\x00b", "m1\x00c"} {
					v, err := tx.Get("bal", []byte(k))
					corrupt(fmt.Sprintf("Get %q = %q", k, v), err)
				}
				corrupt("Scan of the bucket", scan(tx, nil, nil, false))
				corrupt("Scan of the bucket in reverse", scan(tx, nil, nil, true))
				corrupt("Scan of m1's keys", scan(tx, []byte("m1\x00"), []byte("m1\x01"), false))
				if v, err := tx.Get("bal", []byte("m2\x00a")); err != nil || string(v) != "3" {
					t.Errorf("Get of m2's key = %q, %v; want 3", v, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("bal", []byte("m1\x00c"), []byte("4")) })
			corrupt("Put to the damaged row", err)
			if got := row(); got != c.row {
				t.Errorf("after the Put, m1's row %q; want %q as it was", got, c.row)
			}
		})
	}
}

// An instance of a release before packing (schema version 2: a Store
// opened before the schema packed, which never packs) is still running
// while the deploy rolls. Once a Store of this release packed the
// buckets, the old instance's write of a member's record to one of them,
// a row this release never reads, fails with store.ErrFailed (SQLSTATE
// 23514) and writes nothing, rather than succeeding and being lost: the
// balance of 10 stays, and there is no row of it apart. A pool's key
// (from 0x00), kept apart in both layouts, and other buckets are written
// as before. A store packed at version 3, before the constraint existed,
// gets it at its migration to version 4.
func TestOlderReleaseWritesToPackedBucketsRefused(t *testing.T) {
	p := testPool(t)
	ctx := t.Context()
	put := func(s *postgres.Store, bucket, key, val string) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.Put(bucket, []byte(key), []byte(val)) })
	}
	get := func(s *postgres.Store, bucket, key string) string {
		t.Helper()
		var got string
		err := s.View(ctx, func(tx store.Tx) error {
			v, err := tx.Get(bucket, []byte(key))
			got = string(v)
			if errors.Is(err, store.ErrNotFound) {
				got, err = "(none)", nil
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	refused := func(err error, what string) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.Is(err, store.ErrFailed) || !errors.As(err, &pe) || pe.Code != "23514" {
			t.Errorf("the old instance's %s: %v; want an error wrapping store.ErrFailed and SQLSTATE 23514", what, err)
		}
	}

	schema := newSchema(t, p)
	old := openStore(t, &postgres.Options{Schema: schema})
	if err := put(old, "other", "m1", "a"); err != nil {
		t.Fatal(err)
	}
	cur := openStore(t, &postgres.Options{Schema: schema})
	if err := cur.Pack("bal", "ctr"); err != nil {
		t.Fatal(err)
	}
	if err := put(cur, "bal", "m1", "10"); err != nil {
		t.Fatal(err)
	}
	refused(put(old, "bal", "m1", "25"), "balance of m1, packed")
	refused(put(old, "ctr", "m2", "1"), "counter of m2, who has no packed row")
	refused(old.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("other", []byte("m3"), []byte("b")); err != nil {
			return err
		}
		return tx.Put("bal", []byte("m3"), []byte("7"))
	}), "update of other and bal")
	if err := put(old, "bal", "\x00pool", "5"); err != nil {
		t.Errorf("the old instance's write of a pool's key: %v", err)
	}
	if err := put(old, "other", "m2", "c"); err != nil {
		t.Errorf("the old instance's write to a bucket not packed: %v", err)
	}
	for _, c := range []struct{ bucket, key, want string }{
		{"bal", "m1", "10"}, {"ctr", "m2", "(none)"}, {"bal", "m3", "(none)"}, {"other", "m3", "(none)"},
		{"bal", "\x00pool", "5"}, {"other", "m2", "c"},
	} {
		if got := get(cur, c.bucket, c.key); got != c.want {
			t.Errorf("%s/%q = %q; want %q", c.bucket, c.key, got, c.want)
		}
	}
	for _, r := range rawRows(t, schema) {
		if strings.HasPrefix(r, `"bal"/"m`) || strings.HasPrefix(r, `"ctr"/`) || r == `"other"/"m3"` {
			t.Errorf("row %s written by the old instance", r)
		}
	}

	// A store packed at version 3: its constraint is added by the
	// migration to version 4, and the old instance is refused from then.
	schema = newSchema(t, p)
	old = openStore(t, &postgres.Options{Schema: schema})
	cur = openStore(t, &postgres.Options{Schema: schema})
	if err := cur.Pack("bal"); err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	for _, sql := range []string{`ALTER TABLE ` + q + `.kv DROP CONSTRAINT kv_packed_member_keys`, `DELETE FROM ` + q + `.schema_version WHERE version > 3`} {
		if _, err := p.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(old, "bal", "m1", "1"); err != nil { // what version 3 let through
		t.Fatal(err)
	}
	openStore(t, &postgres.Options{Schema: schema})
	refused(put(old, "bal", "m2", "1"), "balance of m2 after the migration to version 4")
	if got := get(cur, "bal", "m2"); got != "(none)" {
		t.Errorf("bal/m2 = %q; want none", got)
	}
}

// TestPackRefusedWrapsErrFailed: Pack's decision is the server's to
// refuse (here, the constraint it adds needs the role to own kv, and the
// role was only granted its rows, as a DBA may make it). The refusal is
// the store's failure, as New's and Update's are: an error wrapping
// store.ErrFailed and the server's, not the caller's input; and the
// decision is not half made: no layout recorded, no constraint, so that
// the owner's Pack then decides as on a new store.
func TestPackRefusedWrapsErrFailed(t *testing.T) {
	admin := testPool(t)
	ctx := t.Context()
	role := fmt.Sprintf("membership_packer_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN"); err != nil {
		t.Fatalf("creating a role (the tests' user must be allowed to, see README.md): %v", err)
	}
	t.Cleanup(func() {
		// After the schema's cleanup, registered later, which runs first.
		if _, err := admin.Exec(context.Background(), "DROP OWNED BY "+role+"; DROP ROLE "+role); err != nil {
			t.Errorf("dropping role %s: %v", role, err)
		}
	})
	schema := newSchema(t, admin)
	owner, err := postgres.New(ctx, admin, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, "GRANT USAGE ON SCHEMA "+q+" TO "+role+"; GRANT ALL ON ALL TABLES IN SCHEMA "+q+" TO "+role); err != nil {
		t.Fatal(err)
	}
	p := rolePool(t, role)
	s, err := postgres.New(ctx, p, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("New as a role granted the tables: %v", err)
	}
	defer s.Close()

	err = s.Pack("bal")
	var pe *pgconn.PgError
	if !errors.Is(err, store.ErrFailed) || errors.Is(err, store.ErrInvalid) || !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("Pack by a role that does not own kv = %v; want an error wrapping store.ErrFailed and SQLSTATE 42501", err)
	}
	var recorded, constraints int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+q+".kv WHERE bucket = '\\x0073746f7265'::bytea").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND conname = 'kv_packed_member_keys'", q+".kv").Scan(&constraints); err != nil {
		t.Fatal(err)
	}
	if recorded != 0 || constraints != 0 {
		t.Errorf("after the refused Pack: %d layout records, %d constraints; want none", recorded, constraints)
	}
	// The owner decides: "bal" is empty, so it packs, and a member's
	// balance is a record of its packed row.
	if err := owner.Pack("bal"); err != nil {
		t.Fatalf("the owner's Pack: %v", err)
	}
	if err := owner.Update(ctx, func(tx store.Tx) error { return tx.Put("bal", []byte("m1\x00points"), []byte("5")) }); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+q+".kv WHERE bucket = '\\x007061636b'::bytea AND key = 'm1'::bytea").Scan(&rows); err != nil || rows != 1 {
		t.Errorf("m1's packed rows = %d, %v; want 1", rows, err)
	}
}
