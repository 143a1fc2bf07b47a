package membership_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/webhook"
	"github.com/memberkit/membership/whatif"
)

// README's Go snippets, each pasted (one tab deeper) into a function
// whose parameters are the names the text around the snippet gives, so
// that they compile with the package; TestReadmeGoBlocksCompile checks
// that README shows them as they are here.

type progressBar interface{ Set(done, total uint64) }

func readmeWhatIf(ctx context.Context, liveStore store.Store, actualDef, changedDef membership.Definition, loc *time.Location, bar progressBar) error {
	rep, err := whatif.Run(ctx, liveStore, actualDef, changedDef, whatif.Options{
		From:     time.Date(2025, 12, 1, 0, 0, 0, 0, loc),
		Progress: func(done, total uint64) { bar.Set(done, total) },
	})
	if err != nil {
		return err
	}
	for _, m := range rep.Months {
		fmt.Println(m.Start.Format("2006-01"), m.Actual.Levels["Gold"], "→", m.Changed.Levels["Gold"],
			m.Actual.Points["mall"].Liability, "→", m.Changed.Points["mall"].Liability)
	}
	page, next := rep.Members("", 50) // members whose level differs, by ID
	_, _ = page, next
	return nil
}

func readmePostgres(ctx context.Context, def membership.Definition) {
	st, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), nil) // or postgres.New(ctx, pool, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	p, err := membership.Open(st, def) // def.Version raised with each change of the program
	if err != nil {
		log.Fatal(err)
	}
	_ = p
}

func readmeWebhook(ctx context.Context, p *membership.Program, st store.Store, secret []byte, logger *slog.Logger) error {
	d, err := webhook.New(p, st, "crm", "https://crm.example.com/hooks", secret,
		webhook.WithLogger(logger))
	if err != nil {
		return err
	}
	go d.Run(ctx) // until ctx is cancelled
	return nil
}

var _ = []any{readmeWhatIf, readmePostgres, readmeWebhook, readmeShutdown}

func readmeShutdown(sched *membership.Scheduler, cancelWebhooks context.CancelFunc, webhooksDone <-chan struct{}, st interface{ Close() error }) {
	// No new runs; a running Advance goes on until it returns
	// (cancel the ctx given to Schedule to cut it short).
	<-sched.Stop().Done()
	// The ctx given to a webhook.Deliverer's Run; then wait for Run to return.
	cancelWebhooks()
	<-webhooksDone
	// store/bolt commits the queued writes and folds its log into the file;
	// on an error the log is kept, and the next Open replays it.
	if err := st.Close(); err != nil {
		log.Printf("close: %v", err)
	}
}
