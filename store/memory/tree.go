package memory

import "github.com/memberkit/membership/internal/cowtree"

// btree is a bucket's tree: entries Put copies into the leaves' arenas.
type btree = cowtree.Tree[struct{}]

// item is an entry of a btree.
type item = cowtree.Item[struct{}]

func newBtree() *btree { return cowtree.New[struct{}]() }
