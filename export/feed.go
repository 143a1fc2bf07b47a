package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store"
)

// FeedReader is the change feed; *membership.Program satisfies it.
type FeedReader interface {
	Feed(ctx context.Context, after uint64, limit int) ([]change.Change, error)
}

// Feed writes the changes after feed position after (0: from the start)
// to w as JSON lines — each change as one JSON object (change.Change's
// encoding, its position in "seq") and a newline — until the feed has no
// more. It returns the rows written and the position of the last one
// (after when none), from which a later export goes on: when w fails,
// the last line w took whole (see the package documentation). It returns an
// error wrapping ErrInvalidArgument for a nil reader or writer, one
// wrapping store.ErrCorrupt for a feed whose positions do not increase or
// a change whose data is no JSON (damaged data: the lines before it are
// written), and the errors of the feed, of w and of ctx.
func Feed(ctx context.Context, w io.Writer, src FeedReader, after uint64, progress Progress) (rows int64, last uint64, err error) {
	if err := nilArg(w == nil, src == nil, false); err != nil {
		return 0, after, fmt.Errorf("export: feed: %w", err)
	}
	s := &sink{w: w, pos: position{seq: after}, progress: progress}
	err = feed(ctx, s, src, after)
	if ferr := s.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("export: feed: %w", ferr)
	}
	return s.rows, s.pos.seq, err
}

// feed writes the changes after position after to s.
func feed(ctx context.Context, s *sink, src FeedReader, after uint64) error {
	enc := json.NewEncoder(s) // one object and a newline a change
	last := after
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		chs, err := src.Feed(ctx, last, pageSize)
		if err != nil {
			return fmt.Errorf("export: feed after %d: %w", last, err)
		}
		for _, c := range chs {
			if c.Seq <= last {
				return fmt.Errorf("export: feed: %w: position %d after %d: out of order", store.ErrCorrupt, c.Seq, last)
			}
			if err := enc.Encode(c); err != nil {
				// A change's data that is no JSON: enc wrote nothing of it.
				return fmt.Errorf("export: feed: change %d: %w: %w", c.Seq, store.ErrCorrupt, err)
			}
			last = c.Seq
			if err := s.end(position{seq: c.Seq}); err != nil {
				return fmt.Errorf("export: feed: %w", err)
			}
		}
		if len(chs) < pageSize {
			return nil
		}
	}
}
