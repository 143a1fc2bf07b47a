package membership

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/robfig/cron/v3"
)

// advancePage is how many due items one store transaction performs; pages
// keep transactions short so events are not held up behind a long catch-up.
const advancePage = 256

// Advance performs, in time order, everything that fell due up to now:
// points lot expiries, level term ends, coupon expiries, freeze deadlines,
// pending releases. Each item takes effect at its own due time, not at now,
// so a host that was down for a week catches up exactly on its first call.
// Advance is idempotent (a performed item is removed in the transaction
// that performs it) and its cost is proportional to what is due, not to
// the number of members. It returns the number of items performed; what
// they changed (expired points, level changes, released coupons) is on the
// change feed (Feed), like the effects of events.
func (p *Program) Advance(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := p.st.Update(ctx, func(tx store.Tx) error {
			items, err := due.Next(tx, now, advancePage)
			if err != nil {
				return err
			}
			n = len(items)
			for _, it := range items {
				pt, ok := p.dueBy[it.Kind]
				if ok {
					out := &Outcome{Time: it.At}
					err := p.unit(tx, it.At, ledger.Ref{Note: "due " + it.Kind}, out, func(t *txn) error {
						if err := pt.due(t, it); err != nil {
							return err
						}
						return t.settle(0)
					})
					if err != nil {
						return fmt.Errorf("due %s %s at %s: %w", it.Kind, it.ID, it.At.Format(time.RFC3339), err)
					}
				} else {
					p.log.Warn("membership: due item of unknown kind dropped", "kind", it.Kind, "id", it.ID)
				}
				if err := due.Done(tx, it); err != nil {
					return err
				}
			}
			if n == 0 {
				return setWatermark(tx, now)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("membership: advance to %s: %w", now.Format(time.RFC3339), err)
		}
		total += n
		// Stop only on an empty page: performing an item may schedule the
		// next one already due (a member who missed several terms while the
		// host was down), and that must run in this call too.
		if n == 0 {
			return total, nil
		}
	}
}

func setWatermark(tx store.Tx, now time.Time) error {
	if v, err := tx.Get(bMeta, []byte("watermark")); err == nil && keys.U64(v, 0) >= keys.TimeU64(now) {
		return nil
	}
	return tx.Put(bMeta, []byte("watermark"), keys.New().Time(now))
}

// Watermark returns the latest time Advance has completed up to (zero
// before the first call).
func (p *Program) Watermark(ctx context.Context) (time.Time, error) {
	var w time.Time
	err := p.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(bMeta, []byte("watermark"))
		if err == nil {
			w = keys.U64Time(keys.U64(v, 0)).In(p.loc)
		}
		return nil
	})
	return w, err
}

// Scheduler calls Advance on a cron schedule in the program's zone. Cron
// only triggers: the due index and the watermark decide what runs, so a
// trigger lost to a DST jump or a restart is caught up on the next one.
type Scheduler struct {
	c  *cron.Cron
	id cron.EntryID
}

// Schedule starts calling Advance(ctx, clock()) on spec, a standard
// five-field cron expression or a descriptor such as "@hourly", evaluated
// in the program's zone. A panic in a run is recovered and logged; an error
// is logged. Stop the scheduler with Stop.
func (p *Program) Schedule(ctx context.Context, spec string) (*Scheduler, error) {
	logger := cron.PrintfLogger(slogPrintf{p})
	// Recover must be inside SkipIfStillRunning: the latter does not give
	// its token back when the job panics, which would skip every later run.
	c := cron.New(cron.WithLocation(p.loc), cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	id, err := c.AddFunc(spec, func() { p.scheduled(ctx) })
	if err != nil {
		return nil, fmt.Errorf("membership: schedule %q: %w", spec, err)
	}
	c.Start()
	return &Scheduler{c: c, id: id}, nil
}

func (p *Program) scheduled(ctx context.Context) {
	n, err := p.Advance(ctx, p.clock())
	if err != nil {
		p.log.Error("membership: scheduled advance", "err", err)
		return
	}
	p.log.Debug("membership: scheduled advance", "performed", n)
}

// Next returns when the scheduler will next call Advance.
func (s *Scheduler) Next() time.Time { return s.c.Entry(s.id).Next }

// Run performs one scheduled run now, through the same recovery chain as
// the cron trigger (useful to trigger a catch-up at start).
func (s *Scheduler) Run() { s.c.Entry(s.id).WrappedJob.Run() }

// Stop stops the scheduler; the returned context is done when a running
// Advance has returned.
func (s *Scheduler) Stop() context.Context { return s.c.Stop() }

type slogPrintf struct{ p *Program }

func (l slogPrintf) Printf(format string, args ...any) {
	l.p.log.Error(fmt.Sprintf(format, args...))
}
