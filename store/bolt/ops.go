package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
)

var _ store.Checker = (*DB)(nil)

// maxCheckErrors is the most problems Check reports.
const maxCheckErrors = 20

// Check checks the integrity of the whole bbolt file: bbolt's own check of
// its pages (every page reachable once, the freelist, keys in order) and
// the checksum of every record (see the package documentation, Damaged
// files), the reserved bucket's included. The log and the overlay, whose
// records were checked when they were written and replayed, are not read.
// It returns nil when nothing is damaged, an error wrapping [ErrCorrupt]
// (and so [store.ErrCorrupt]) that lists up to 20 problems, ctx.Err(), or
// an error wrapping [store.ErrClosed].
//
// Check holds bbolt's write transaction while it runs, as bbolt's check
// requires: Updates go on, but no checkpoint runs meanwhile, so a long
// Check on a busy store lets the overlay grow, up to
// [Options.MaxOverlaySize], where Updates wait.
func (d *DB) Check(ctx context.Context) error {
	if d.closed.Load() {
		return fmt.Errorf("bolt: check: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var problems []error
	err := guard("check", "", func() error {
		btx, err := d.db.Begin(true)
		if err != nil {
			if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
				return store.ErrClosed
			}
			return err
		}
		defer btx.Rollback() //nolint:errcheck // nothing was written
		// bbolt's check runs on a goroutine of its own, where a damaged
		// page could fault outside the guard: it runs only on pages whose
		// structure checkPages found sound.
		if err := checkPages(btx, d.mappedSpan(btx), true); err != nil {
			problems = append(problems, err)
			return nil
		}
		for err := range btx.Check() {
			if len(problems) < maxCheckErrors {
				problems = append(problems, err)
			}
		}
		if len(problems) > 0 {
			// Walking damaged pages could loop: the pages are reported.
			return nil
		}
		if _, _, err := readMeta(btx); err != nil {
			problems = append(problems, err)
		}
		if names, _, err := readCatalogue(btx); err != nil {
			problems = append(problems, err)
		} else {
			err := btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				if string(name) != metaBucket && !names[string(name)] {
					problems = append(problems, fmt.Errorf("bucket %q is not in the list of buckets", name))
				}
				delete(names, string(name))
				return nil
			})
			if err != nil {
				return err
			}
			for name := range names {
				problems = append(problems, fmt.Errorf("bucket %q is missing from the file", name))
			}
		}
		return checkRecords(ctx, btx, d.nested, &problems)
	})
	switch {
	case errors.Is(err, store.ErrClosed):
		return fmt.Errorf("bolt: check: %w", store.ErrClosed)
	case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return err
	case err != nil:
		problems = append(problems, err)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("bolt: check: %w: %w", ErrCorrupt, errors.Join(problems...))
}

// checkRecords checks the checksum of every record of btx's buckets but
// the reserved one, adding a problem for each that fails, up to
// maxCheckErrors. A key holding a nested bucket is a problem unless nested
// lists it.
func checkRecords(ctx context.Context, btx *bbolt.Tx, nested map[string]map[string]bool, problems *[]error) error {
	lay, err := readLayout(btx)
	if err != nil {
		*problems = append(*problems, err)
		return nil
	}
	return btx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		bucket := string(name)
		if bucket == metaBucket {
			return nil
		}
		base := bucketSum(bucket)
		n := 0
		var packed []byte // the group of the last pack, in colocBucket
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var problem error
			if group, ok := packGroup(k); ok && bucket == colocBucket {
				payload, good := unseal(colocSum, k, v)
				switch {
				case v == nil:
					problem = fmt.Errorf("bucket %q, key %q: flagged as a nested bucket", bucket, k)
				case !good:
					problem = fmt.Errorf("bucket %q, the pack of %q: its checksum does not match", bucket, group)
				default:
					if _, err := decodePack(nil, group, payload, lay); err != nil {
						problem = err
					}
				}
				packed = group
			} else if bucket == colocBucket {
				name, base, key, ok := lay.record(k)
				switch {
				case !ok:
					problem = fmt.Errorf("bucket %q, key %q: not a colocated record's key", bucket, k)
				case packed != nil && bytes.Equal(groupOf(key), packed):
					// A pack holds all its group's records (see pack.go).
					problem = fmt.Errorf("bucket %q, key %q: its group has a pack too", name, key)
				case v == nil:
					problem = fmt.Errorf("bucket %q, key %q: flagged as a nested bucket", name, key)
				default:
					if _, good := unseal(base, key, v); !good {
						problem = fmt.Errorf("bucket %q, key %q: the record's checksum does not match", name, key)
					}
				}
			} else {
				switch {
				case v == nil && !nested[bucket][string(k)]:
					problem = fmt.Errorf("bucket %q, key %q: flagged as a nested bucket", bucket, k)
				case v == nil:
				default:
					if _, good := unseal(base, k, v); !good {
						problem = fmt.Errorf("bucket %q, key %q: the record's checksum does not match", bucket, k)
					}
				}
			}
			if problem != nil {
				if *problems = append(*problems, problem); len(*problems) >= maxCheckErrors {
					return nil
				}
			}
		}
		return nil
	})
}

// Backup writes a copy of the store, a bbolt file that [Open] opens as a
// store, to w, while the store serves Updates and Views, and returns the
// number of bytes written. The copy holds a committed state: every
// Update wholly or not at all, every Update answered before Backup was
// called among them, and possibly some answered while it runs. It needs no
// log: Backup first has the writer checkpoint every batch answered into
// the bbolt file (which a checkpoint does at once if none is running), then
// copies the file as a bbolt read transaction sees it, begun by the writer
// as that checkpoint ends, before the next one starts: a checkpoint
// commits in parts (see [Options.MaxMemory]), and a copy taken after one
// of them would hold part of the next checkpoint's Updates. The copy has the
// store's ID (see Files): restored at the store's path it stands for the
// store; opened at another path, it gets one of its own when first closed.
//
// Its errors wrap, for errors.Is: ctx.Err() when ctx is done first (w may
// then hold part of a copy), [store.ErrClosed], the checkpoint's error
// when it failed, or w's error, wherever in the copy w failed. While it
// copies, the transaction it holds keeps bbolt from growing its memory
// map (see Caveats).
func (d *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	btx, err := d.syncFile(ctx)
	if err != nil {
		if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
			err = store.ErrClosed
		}
		return 0, fmt.Errorf("bolt: backup: %w", err)
	}
	defer btx.Rollback() //nolint:errcheck // read-only: nothing to lose
	if d.backupHook != nil {
		d.backupHook()
	}
	cw := &ctxWriter{ctx: ctx, w: w}
	n, err := btx.WriteTo(cw)
	if err != nil {
		if cw.err != nil {
			// bbolt flattens the error of a meta page's write into text
			// (%s): return it as w or ctx gave it, for errors.Is.
			err = cw.err
		}
		return n, fmt.Errorf("bolt: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a copy of the store, as [DB.Backup] does, to the file
// at path: to a new file in path's directory first, synced, then renamed
// to path, so that path holds either a whole copy or what it held before.
// It refuses, with an error wrapping [store.ErrInvalid], the store's own
// file, however the path reaches it (symbolic links to it or to a
// directory on the way, a hard link: compared as files, not names), and a
// path next to which log files lie (which Open would replay into the
// copy); it then writes nothing.
func (d *DB) BackupFile(ctx context.Context, path string) (int64, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("bolt: backup to %s: %w", path, err)
	}
	if own, err := filepath.Abs(d.db.Path()); err == nil && own == abs || d.isOwnFile(path) {
		return 0, fmt.Errorf("bolt: backup to %s: the store's own file: %w", path, store.ErrInvalid)
	}
	if name := logFile(path); name != "" {
		return 0, fmt.Errorf("bolt: backup to %s: log files lie next to it (%s): %w", path, name, store.ErrInvalid)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".backup-*")
	if err != nil {
		return 0, fmt.Errorf("bolt: backup to %s: %w", path, err)
	}
	tmp := f.Name()
	n, err := d.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("bolt: backup to %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return n, fmt.Errorf("bolt: backup to %s: %w", path, err)
	}
	return n, nil
}

// isOwnFile reports whether path reaches the store's own file, however
// spelled: through a symbolic link to it or to a directory on the way, or
// a hard link. Compared as files (os.SameFile), not as strings: the path
// itself when it exists (following links), and its directory with links
// resolved joined to its name.
func (d *DB) isOwnFile(path string) bool {
	own, err := os.Stat(d.db.Path())
	if err != nil {
		return false
	}
	if fi, err := os.Stat(path); err == nil && os.SameFile(own, fi) {
		return true
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return false
	}
	fi, err := os.Lstat(filepath.Join(dir, filepath.Base(path)))
	return err == nil && os.SameFile(own, fi)
}

// logFile returns the name of a log file next to path, or "".
func logFile(path string) string {
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filepath.Base(path)+walInfix) {
			return e.Name()
		}
	}
	return ""
}

// syncFile waits until the bbolt file holds every batch answered before it
// was called (see syncReq), and returns a read transaction of the file as
// of then, which the caller rolls back.
func (d *DB) syncFile(ctx context.Context) (*bbolt.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &syncReq{done: make(chan error, 1)}
	d.mu.RLock()
	if d.closed.Load() {
		d.mu.RUnlock()
		return nil, store.ErrClosed
	}
	select {
	case d.syncs <- s:
	case <-ctx.Done():
		d.mu.RUnlock()
		return nil, ctx.Err()
	}
	d.mu.RUnlock()
	select {
	case err := <-s.done:
		if err != nil {
			return nil, err
		}
		return s.tx, nil
	case <-ctx.Done():
		// The writer answers every request, at the latest when it exits:
		// a transaction it begins for this one is rolled back, or Close
		// would wait for it for ever.
		go func() {
			if <-s.done == nil {
				_ = s.tx.Rollback()
			}
		}()
		return nil, ctx.Err()
	}
}

// ctxWriter is a writer that fails once its context is done. err is the
// first error it returned.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// The layout of a bbolt page: a header (id uint64, flags uint16, count
// uint16, overflow uint32), then count 16-byte elements; a branch element
// is pos uint32, ksize uint32, pgid uint64, a leaf element flags uint32,
// pos uint32, ksize uint32, vsize uint32, pos counting from the element. A
// bucket's value is its root pgid and sequence (uint64 each), followed,
// when the root is 0, by its inline page. Integers are in the machine's
// order, little-endian on the platforms bbolt maps files on.
const (
	pageHeaderSize = 16
	pageElemSize   = 16
	branchPage     = 0x01
	leafPage       = 0x02
	bucketElem     = 0x01
	bucketHeader   = 16
	freelistPage   = 0x10
	// A meta page's body, after the page header: magic, version, page
	// size and flags (uint32 each), the root bucket's header, then these
	// uint64s, at these offsets.
	metaFreelist = 32
	metaPgid     = 40
	metaTxid     = 48
	noFreelist   = 1<<64 - 1 // the freelist's page when it is not synced
)

// checkPages walks every page reachable from btx's root, reading them
// from the file's mapping, and checks that each is a branch or leaf page
// met once, inside the file, whose elements' keys and values lie inside
// it, and whose children lie in the file; a branch page has elements, and
// a bucket's inline page is a leaf, as bbolt writes them. (bbolt's cursor
// reads a branch page's first element even when it has none, and a
// bucket's inline page as its page 0: an inline branch page whose
// element says 0 made it descend into the same page until memory ran
// out.) Unless deep is set it walks only the root bucket's pages and the
// inline buckets in them, checking that the other buckets' roots lie in
// the file: what Open checks before it reads any bucket. It returns the
// first problem, wrapping ErrCorrupt; its caller guards it against memory
// faults.
func checkPages(btx *bbolt.Tx, mapped span, deep bool) error {
	size := uintptr(btx.Size())
	if mapped.hi-mapped.lo < size || mapped.page == 0 {
		return fmt.Errorf("%w: the file is larger than its mapping", ErrCorrupt)
	}
	// The mapping is not the garbage collector's: its address, kept as a
	// uintptr, is read back as a pointer.
	lo := mapped.lo
	file := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&lo))), size)
	ps := int(mapped.page)
	npages := uint64(len(file) / ps)
	seen := make(map[uint64]bool)
	var roots []uint64 // the buckets' roots the walk does not visit
	var (
		walk  func(p []byte, id uint64, depth int, inline bool) error
		visit func(id uint64, depth int) error
	)
	walk = func(p []byte, id uint64, depth int, inline bool) error {
		if depth > 64 {
			return fmt.Errorf("%w: page %d: the tree is deeper than 64 levels", ErrCorrupt, id)
		}
		if len(p) < pageHeaderSize {
			return fmt.Errorf("%w: page %d: shorter than its header", ErrCorrupt, id)
		}
		flags := binary.LittleEndian.Uint16(p[8:])
		count := int(binary.LittleEndian.Uint16(p[10:]))
		if pageHeaderSize+count*pageElemSize > len(p) {
			return fmt.Errorf("%w: page %d: %d elements do not fit in it", ErrCorrupt, id, count)
		}
		switch {
		case inline && flags != leafPage:
			return fmt.Errorf("%w: page %d: an inline bucket's page with flags %#x, not a leaf", ErrCorrupt, id, flags)
		case flags == branchPage && count == 0:
			return fmt.Errorf("%w: page %d: a branch page without elements", ErrCorrupt, id)
		}
		// bbolt writes the elements' keys and values one after the other
		// right after the last element: a count that lost elements (which
		// reads would then not find) or gained some breaks that.
		if flags == branchPage {
			children, err := branchChildren(p, id, count)
			if err != nil {
				return err
			}
			for _, c := range children {
				if err := visit(c, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		next := pageHeaderSize + count*pageElemSize
		for i := range count {
			e := pageHeaderSize + i*pageElemSize
			switch flags {
			case leafPage:
				ef := binary.LittleEndian.Uint32(p[e:])
				pos, ksize := int(binary.LittleEndian.Uint32(p[e+4:])), int(binary.LittleEndian.Uint32(p[e+8:]))
				vsize := int(binary.LittleEndian.Uint32(p[e+12:]))
				end := e + pos + ksize + vsize
				if end > len(p) || end < e {
					return fmt.Errorf("%w: page %d: leaf element %d lies outside the page", ErrCorrupt, id, i)
				}
				if e+pos != next {
					return fmt.Errorf("%w: page %d: leaf element %d's key is at %d, not right after the one before (%d)", ErrCorrupt, id, i, e+pos, next)
				}
				next = end
				if ef&bucketElem == 0 {
					continue
				}
				v := p[e+pos+ksize : end]
				if len(v) < bucketHeader {
					return fmt.Errorf("%w: page %d: bucket element %d too short", ErrCorrupt, id, i)
				}
				root := binary.LittleEndian.Uint64(v)
				switch {
				case root == 0:
					if err := walk(v[bucketHeader:], id, depth+1, true); err != nil {
						return err
					}
				case deep:
					if err := visit(root, depth+1); err != nil {
						return err
					}
				case root < 2 || root >= npages:
					return fmt.Errorf("%w: page %d: bucket element %d: its root, page %d, lies outside the file (%d pages)", ErrCorrupt, id, i, root, npages)
				default:
					roots = append(roots, root)
				}
			default:
				return fmt.Errorf("%w: page %d: flags %#x: neither a branch nor a leaf", ErrCorrupt, id, flags)
			}
		}
		return nil
	}
	visit = func(id uint64, depth int) error {
		if seen[id] {
			return fmt.Errorf("%w: page %d is reached twice", ErrCorrupt, id)
		}
		seen[id] = true
		p, err := pageAt(file, ps, id)
		if err != nil {
			return err
		}
		return walk(p, id, depth, false)
	}
	txid := uint64(btx.ID())
	if btx.Writable() {
		txid-- // a write transaction's id is the next one's
	}
	free, err := checkFreelist(file, ps, txid)
	if err != nil {
		return err
	}
	if err := visit(uint64(btx.Cursor().Bucket().Root()), 0); err != nil {
		return err
	}
	return checkBranches(file, ps, roots, free)
}

// pageAt returns page id of file, with its overflow pages, checking that
// they lie in the file and that the page identifies itself as id. ps is
// the page size.
func pageAt(file []byte, ps int, id uint64) ([]byte, error) {
	npages := uint64(len(file) / ps)
	if id < 2 || id >= npages {
		return nil, fmt.Errorf("%w: page %d lies outside the file (%d pages)", ErrCorrupt, id, npages)
	}
	p := file[id*uint64(ps):]
	if got := binary.LittleEndian.Uint64(p); got != id {
		return nil, fmt.Errorf("%w: page %d identifies itself as %d", ErrCorrupt, id, got)
	}
	overflow := uint64(binary.LittleEndian.Uint32(p[12:]))
	if id+overflow >= npages {
		return nil, fmt.Errorf("%w: page %d runs past the end of the file", ErrCorrupt, id)
	}
	return p[:(overflow+1)*uint64(ps)], nil
}

// branchChildren returns the children of p, branch page id with count
// elements, checking that each element's key lies in the page right
// after the one before, as bbolt writes them.
func branchChildren(p []byte, id uint64, count int) ([]uint64, error) {
	children := make([]uint64, count)
	next := pageHeaderSize + count*pageElemSize
	for i := range count {
		e := pageHeaderSize + i*pageElemSize
		pos, ksize := int(binary.LittleEndian.Uint32(p[e:])), int(binary.LittleEndian.Uint32(p[e+4:]))
		if e+pos+ksize > len(p) || e+pos+ksize < e {
			return nil, fmt.Errorf("%w: page %d: branch element %d lies outside the page", ErrCorrupt, id, i)
		}
		if e+pos != next {
			return nil, fmt.Errorf("%w: page %d: branch element %d's key is at %d, not right after the one before (%d)", ErrCorrupt, id, i, e+pos, next)
		}
		next = e + pos + ksize
		children[i] = binary.LittleEndian.Uint64(p[e+8:])
	}
	return children, nil
}

// checkBranches checks the branch pages of the trees rooted at roots (the
// buckets of the root bucket), without reading their leaves, which would
// read the whole file: that every page they lead to, branch or leaf, is
// met once and is not free, and that no child of the branch pages above
// the leaves is a branch page met before (its own page, or one above it).
// A child pointer a flipped byte changed leads to one of those, or outside
// the file, but for a leaf of the trees' that no branch page points to,
// which cannot be: a child pointer back up a tree sent bbolt's cursor
// round the same pages for ever, and one to a free page, which may hold
// an older copy of the leaf it replaced, read old records as current
// (their checksums hold). A tree's height is that of its first leaf, as
// bbolt keeps every leaf at one depth; a tree that is not so is refused.
// file is the file's mapping, ps its page size, free the freelist's pages
// (none when the freelist is not synced).
func checkBranches(file []byte, ps int, roots, free []uint64) error {
	npages := uint64(len(file) / ps)
	page := func(id uint64) ([]byte, uint16, int, error) {
		p, err := pageAt(file, ps, id)
		if err != nil {
			return nil, 0, 0, err
		}
		count := int(binary.LittleEndian.Uint16(p[10:]))
		if pageHeaderSize+count*pageElemSize > len(p) {
			return nil, 0, 0, fmt.Errorf("%w: page %d: %d elements do not fit in it", ErrCorrupt, id, count)
		}
		return p, binary.LittleEndian.Uint16(p[8:]), count, nil
	}
	// The pages met and the free ones, a bit a page: with maps, Open of
	// a file of a million members took 20-34 ms rather than 8 (3 without
	// this check).
	type bits []uint64
	newBits := func() bits { return make(bits, npages/64+1) }
	has := func(b bits, id uint64) bool { return b[id/64]&(1<<(id%64)) != 0 }
	set := func(b bits, id uint64) { b[id/64] |= 1 << (id % 64) }
	met, leaves, freed := newBits(), newBits(), newBits()
	for _, id := range free {
		if id < npages { // checkFreelist checked that
			set(freed, id)
		}
	}
	leaf := func(parent, id uint64) error {
		switch {
		case id < 2 || id >= npages:
			return fmt.Errorf("%w: page %d: a child, page %d, lies outside the file (%d pages)", ErrCorrupt, parent, id, npages)
		case has(met, id):
			return fmt.Errorf("%w: page %d: a child, page %d, is a branch page above it", ErrCorrupt, parent, id)
		case has(leaves, id):
			return fmt.Errorf("%w: page %d: a child, page %d, is another page's child too", ErrCorrupt, parent, id)
		case has(freed, id):
			return fmt.Errorf("%w: page %d: a child, page %d, is a free page", ErrCorrupt, parent, id)
		}
		set(leaves, id)
		return nil
	}
	for _, root := range roots {
		// The height: the branch pages on the way to the first leaf.
		height := 0
		for id := root; ; height++ {
			p, flags, count, err := page(id)
			if err != nil {
				return err
			}
			if flags != branchPage {
				break
			}
			if count == 0 {
				return fmt.Errorf("%w: page %d: a branch page without elements", ErrCorrupt, id)
			}
			if height == 64 {
				return fmt.Errorf("%w: page %d: the tree is deeper than 64 levels", ErrCorrupt, root)
			}
			id = binary.LittleEndian.Uint64(p[pageHeaderSize+8:])
		}
		if height == 0 {
			if err := leaf(0, root); err != nil {
				return fmt.Errorf("bucket root: %w", err)
			}
		}
		level := []uint64{root}
		for depth := range height {
			var next []uint64
			for _, id := range level {
				p, flags, count, err := page(id)
				if err != nil {
					return err
				}
				if flags != branchPage || count == 0 {
					return fmt.Errorf("%w: page %d, %d levels down from bucket root %d: flags %#x, %d elements; want a branch page, as its leaves are %d levels down", ErrCorrupt, id, depth, root, flags, count, height)
				}
				switch {
				case has(met, id) || has(leaves, id):
					return fmt.Errorf("%w: branch page %d is reached twice", ErrCorrupt, id)
				case has(freed, id):
					return fmt.Errorf("%w: branch page %d is a free page", ErrCorrupt, id)
				}
				set(met, id)
				children, err := branchChildren(p, id, count)
				if err != nil {
					return err
				}
				if depth < height-1 {
					next = append(next, children...)
					continue
				}
				for _, c := range children {
					if err := leaf(id, c); err != nil {
						return err
					}
				}
			}
			level = next
		}
	}
	return nil
}

// checkFreelist checks that the free pages the freelist of transaction
// txid lists lie in the file, below its high-water mark: bbolt hands them
// out as they are, and a checkpoint writing at a page number a damaged
// freelist made up failed (or wrote over a page in use) where Open can
// refuse the file. It returns the free pages (none when the freelist is
// not synced: bbolt rebuilds it). file is the file's mapping, ps its page
// size.
func checkFreelist(file []byte, ps int, txid uint64) ([]uint64, error) {
	for _, m := range []uint64{0, 1} {
		p := file[m*uint64(ps):]
		meta := p[pageHeaderSize:]
		if binary.LittleEndian.Uint64(meta[metaTxid:]) != txid {
			continue
		}
		free, high := binary.LittleEndian.Uint64(meta[metaFreelist:]), binary.LittleEndian.Uint64(meta[metaPgid:])
		npages := uint64(len(file) / ps)
		switch {
		case free == noFreelist:
			return nil, nil // not synced: bbolt rebuilt it from the pages in use
		case high > npages:
			return nil, fmt.Errorf("%w: meta page %d: a high-water mark of page %d, past the file's end (%d pages)", ErrCorrupt, m, high, npages)
		case free < 2 || free >= high:
			return nil, fmt.Errorf("%w: meta page %d: the freelist, page %d, lies outside the file (%d pages)", ErrCorrupt, m, free, high)
		}
		fp := file[free*uint64(ps):]
		if flags := binary.LittleEndian.Uint16(fp[8:]); flags != freelistPage {
			return nil, fmt.Errorf("%w: freelist page %d: flags %#x", ErrCorrupt, free, flags)
		}
		overflow := uint64(binary.LittleEndian.Uint32(fp[12:]))
		if free+overflow >= high {
			return nil, fmt.Errorf("%w: freelist page %d runs past the high-water mark", ErrCorrupt, free)
		}
		fp = fp[:(overflow+1)*uint64(ps)]
		count, list := uint64(binary.LittleEndian.Uint16(fp[10:])), fp[pageHeaderSize:]
		if count == 0xFFFF {
			// More than a uint16 holds: the count is the first id's place.
			count, list = binary.LittleEndian.Uint64(list), list[8:]
		}
		if count > uint64(len(list)/8) {
			return nil, fmt.Errorf("%w: freelist page %d: %d ids do not fit in it", ErrCorrupt, free, count)
		}
		ids := make([]uint64, count)
		for i := range ids {
			if ids[i] = binary.LittleEndian.Uint64(list[i*8:]); ids[i] < 2 || ids[i] >= high {
				return nil, fmt.Errorf("%w: freelist page %d: free page %d lies outside the file (%d pages)", ErrCorrupt, free, ids[i], high)
			}
		}
		return ids, nil
	}
	return nil, fmt.Errorf("%w: no meta page of transaction %d", ErrCorrupt, txid)
}
