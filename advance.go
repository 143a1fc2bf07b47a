package membership

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/memberkit/membership/event"
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
//
// An item due at now is performed: an expiry at 24:00 of day D, the
// instant D+1 00:00, by Advance to exactly D+1 00:00. Items due at the
// same instant are performed in the order of their kind's name (coupon,
// level, points, tag), then of their ID; no result depends on that order:
// a term end at T counts the growth of [T − W months, T), so an order at
// exactly T counts toward the next term whichever comes first.
//
// An event or request dated after an item that Advance has not performed
// yet sees the state after it where the item decides what the event may
// do: the member's term ends, tag window edges and the holds of the
// orders it names are performed first, at their own instants; a lot past
// its expiry is not spent, a plan past its expiry is not held, a
// fixed-duration freeze past its deadline does not unfreeze. Pending
// points are released only by Advance (see package points). An event
// dated before the watermark (a late event) may schedule items in the
// past: the next Advance performs them, at their own instants.
//
// Advance to a time before the watermark performs what is due by then
// and leaves the watermark where it is. Advance works in pages of up to 256 items, each one store transaction.
// When ctx is done or the store fails (store.ErrClosed) during a call, it
// returns the error with the number of items the pages committed before
// it performed: each page is whole or absent, the rest stays due for the
// next call, and Watermark moves to now only with the page that finds
// nothing left due. A damaged due item (of a kind no part performs, or a
// key or value the library does not write) is an error wrapping
// ErrCorrupt: Advance stops at it and leaves it in place, with the pages
// before it committed.
func (p *Program) Advance(ctx context.Context, now time.Time) (int, error) {
	if err := event.CheckTime(now); err != nil {
		return 0, fmt.Errorf("membership: advance: %w: now: %w", ErrInvalidArgument, err)
	}
	n, err := p.eng.Advance(ctx, now)
	if err != nil {
		return n, fmt.Errorf("membership: advance to %s: %w", now.Format(time.RFC3339), err)
	}
	return n, nil
}

// Watermark returns the latest time Advance has completed up to (zero
// before the first call).
func (p *Program) Watermark(ctx context.Context) (time.Time, error) {
	return p.eng.Watermark(ctx)
}

// Scheduler calls Advance on a cron schedule in the program's zone. Cron
// only triggers: the due index and the watermark decide what runs, so a
// trigger lost to a DST jump or a restart is caught up on the next one.
type Scheduler struct {
	c  *cron.Cron
	id cron.EntryID
	// runs counts the Advances running, started by the trigger or by Run
	// (cron's Stop waits only for the trigger's); idle is signalled when
	// it drops to 0.
	mu   sync.Mutex
	runs int
	idle *sync.Cond
}

// Schedule starts calling Advance(ctx, clock()) on spec, a standard
// five-field cron expression or a descriptor such as "@hourly", evaluated
// in the program's zone. A panic in a run is recovered and logged; an error
// is logged. Stop the scheduler with Stop. A spec that does not parse
// (empty, or not a cron expression) wraps ErrInvalidArgument, and nothing
// is started.
func (p *Program) Schedule(ctx context.Context, spec string) (*Scheduler, error) {
	logger := cron.PrintfLogger(slogPrintf{p})
	// Recover must be inside SkipIfStillRunning: the latter does not give
	// its token back when the job panics, which would skip every later run.
	c := cron.New(cron.WithLocation(p.loc), cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	sched, err := parseSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("membership: schedule: %w: spec %q: %w", ErrInvalidArgument, spec, err)
	}
	s := &Scheduler{c: c}
	s.idle = sync.NewCond(&s.mu)
	s.id = c.Schedule(sched, cron.FuncJob(func() {
		s.mu.Lock()
		s.runs++
		s.mu.Unlock()
		defer func() { // after a panic too, which Recover then logs
			s.mu.Lock()
			if s.runs--; s.runs == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
		p.scheduled(ctx)
	}))
	c.Start()
	return s, nil
}

// parseSpec parses a cron spec as cron.New's AddFunc does (the standard
// parser; a spec without a zone runs in the Cron's). robfig/cron v3.0.1's
// parser panics on a zone prefix with nothing after it ("TZ=UTC"): that
// panic is the spec's error here, as every other unparsable spec is.
func parseSpec(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("does not parse: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
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
// Advance has returned, whether the schedule or Run started it. Stop does
// not cancel it: cancel the context given to Schedule for that.
func (s *Scheduler) Stop() context.Context {
	triggered := s.c.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-triggered.Done()
		s.mu.Lock()
		for s.runs > 0 {
			s.idle.Wait()
		}
		s.mu.Unlock()
		cancel()
	}()
	return ctx
}

type slogPrintf struct{ p *Program }

func (l slogPrintf) Printf(format string, args ...any) {
	l.p.log.Error(fmt.Sprintf(format, args...))
}
