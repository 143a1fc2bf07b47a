package membership

import (
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// The domain handles: each domain's operator calls and queries, documented
// in its own package. A handle is built once in Open and is never nil; a
// domain the definition leaves out answers with its ErrNotDefined.

// Tasks returns the task domain: members' progress and completions.
func (p *Program) Tasks() *task.Handle { return p.tasks }

// Tags returns the tag domain: manual tags, profile attributes, segments
// and the recompute of a changed rule.
func (p *Program) Tags() *tag.Handle { return p.tags }
