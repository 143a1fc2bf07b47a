package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store/memory"
)

// wantRefused fails t unless err wraps ErrInvalidArgument and its message
// names field.
func wantRefused(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("%s: error %v; want one wrapping ErrInvalidArgument", what, err)
		return
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("%s: error %q does not name %q", what, err, field)
	}
}

// Arguments a call cannot use are refused with ErrInvalidArgument, named,
// before anything is read or written: a nil writer or source store used
// to panic, a cron spec that does not parse came back as the parser's bare
// error, and an empty consumer read cursor 0 where SetCursor refused it.
func TestUnusableArgumentsAreRefused(t *testing.T) {
	ctx := context.Background()
	from := memory.New()
	src := openOpsOn(t, from, membership.WithJournal())
	if _, err := src.Process(ctx, order(src, "o1", "alice", "10", 1)); err != nil {
		t.Fatal(err)
	}
	if err := src.SetCursor(ctx, "crm", 1); err != nil {
		t.Fatal(err)
	}
	feed := func() int {
		t.Helper()
		cs, err := src.Feed(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	before := feed()

	t.Run("ExportAudit nil writer", func(t *testing.T) {
		n, err := src.ExportAudit(ctx, nil, membership.AuditQuery{})
		wantRefused(t, "ExportAudit(nil)", err, "w: nil writer")
		if n != 0 {
			t.Errorf("ExportAudit(nil) wrote %d entries, want 0", n)
		}
	})

	t.Run("Replay nil source", func(t *testing.T) {
		dst := openOpsOn(t, memory.New())
		n, err := dst.Replay(ctx, nil, nil)
		wantRefused(t, "Replay(nil)", err, "from: nil store")
		if n != 0 {
			t.Errorf("Replay(nil) applied %d inputs, want 0", n)
		}
		_, err = dst.ReplayWith(ctx, nil, membership.ReplayOptions{})
		wantRefused(t, "ReplayWith(nil)", err, "from: nil store")
		_, err = dst.ReplayWith(ctx, nil, membership.ReplayOptions{Changed: true})
		wantRefused(t, "ReplayWith(nil, Changed)", err, "from: nil store")
		// The refusals left dst empty: the journal (one order) replays.
		if n, err := dst.Replay(ctx, from, nil); err != nil || n != 1 {
			t.Errorf("Replay after the refusals = %d, %v; want 1 input", n, err)
		}
	})

	t.Run("Schedule bad spec", func(t *testing.T) {
		// "TZ=UTC" and "CRON_TZ=Asia/Shanghai", a zone with no schedule
		// after it, made the cron parser panic.
		for _, spec := range []string{"", "nope nope", "61 * * * *", "@fortnightly", "*/0 * * * *", "TZ=UTC", "CRON_TZ=Asia/Shanghai", "CRON_TZ=Mars/Base @hourly"} {
			s, err := src.Schedule(ctx, spec)
			if s != nil {
				s.Stop()
				t.Errorf("Schedule(%q) started a scheduler", spec)
			}
			wantRefused(t, "Schedule("+spec+")", err, "spec \""+spec+"\"")
		}
	})

	t.Run("Cursor consumer", func(t *testing.T) {
		for _, c := range []struct{ consumer, field string }{
			{"", "consumer: empty"},
			{"c\x00", "consumer"},
			{"c\xff", "consumer"},
			{strings.Repeat("c", 1025), "consumer"},
		} {
			n, err := src.Cursor(ctx, c.consumer)
			wantRefused(t, "Cursor("+c.consumer+")", err, c.field)
			if n != 0 {
				t.Errorf("Cursor(%q) = %d, want 0", c.consumer, n)
			}
			wantRefused(t, "SetCursor("+c.consumer+")", src.SetCursor(ctx, c.consumer, 5), c.field)
		}
		// crm's cursor is where it was set, by hand: 1.
		if n, err := src.Cursor(ctx, "crm"); err != nil || n != 1 {
			t.Errorf("Cursor(crm) = %d, %v; want 1", n, err)
		}
	})

	if after := feed(); after != before {
		t.Errorf("the refused calls changed the feed: %d changes, were %d", after, before)
	}
}

// openOpsOn opens opsDef on st.
func openOpsOn(t *testing.T, st *memory.Store, opts ...membership.Option) *membership.Program {
	t.Helper()
	def, err := membership.ParseDefinition([]byte(opsDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
