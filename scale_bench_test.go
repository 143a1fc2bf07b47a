package membership_test

// The scale benchmarks (issue 15) run on one bolt store of
// MEMBERSHIP_SCALE_MEMBERS members (default 1,000, so that CI, which runs
// every benchmark once, builds it in a second), built once per run: one
// order per member, spread over 2025, then Advance to 1 January 2026. The
// benchmarks then pick members at random and move time on from there, so
// they share the store and its growth. README ("At scale") gives the
// command that runs them at a million members beside their baselines;
// MEMBERSHIP_SCALE_REUSE lets runs share one build (see reuseScale).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
	bbolt "go.etcd.io/bbolt"
)

// TestMain removes the scale benchmarks' stores, which no test's TempDir
// holds (they outlive each benchmark), once the run ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if scale.st != nil {
		scale.st.Close()
	}
	if baseline.db != nil {
		baseline.db.Close()
	}
	for _, dir := range []string{scale.dir, baseline.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// scaleMembers is the size of the scale store.
func scaleMembers() int {
	if n, err := strconv.Atoi(os.Getenv("MEMBERSHIP_SCALE_MEMBERS")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// scaleOptions are the scale store's options: the defaults, but for
// CheckpointSize, MEMBERSHIP_SCALE_CHECKPOINT bytes when set (to weigh
// Close's time against checkpoints' frequency).
func scaleOptions() *bolt.Options {
	var o bolt.Options
	if n, err := strconv.ParseInt(os.Getenv("MEMBERSHIP_SCALE_CHECKPOINT"), 10, 64); err == nil && n > 0 {
		o.CheckpointSize = n
	}
	// The log on another device (bolt.Options.LogDir), on a host that
	// has one.
	o.LogDir = os.Getenv("MEMBERSHIP_SCALE_LOGDIR")
	return &o
}

// scaleEvents is how many events (or pages) a scale benchmark's
// iteration makes: MEMBERSHIP_SCALE_EVENTS, default 200. The scale
// benchmarks are run with -benchtime 1x, so that one binary builds the
// store once and each benchmark does a fixed amount of work on it.
func scaleEvents() int {
	if n, err := strconv.Atoi(os.Getenv("MEMBERSHIP_SCALE_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200
}

// scaleWarmup is how many events the load benchmarks run, from 64
// callers, before their meters start: MEMBERSHIP_SCALE_WARMUP, default
// 30,000. A store opened fresh runs its first CheckpointSize of writes
// (some 12,000 events at a million members) with no checkpoint at all,
// and so a load timed from the start gets a fifth of its time free of
// them: at a million members, 60,000 events timed cold ran at 65-69% of
// their time checkpointing and 1.24 pages written an event, against
// 81-84% and 1.43 after 30,000 events of warm-up (thirteenth session).
func scaleWarmup() int {
	if n, err := strconv.Atoi(os.Getenv("MEMBERSHIP_SCALE_WARMUP")); err == nil && n >= 0 {
		return n
	}
	return 30000
}

// warmScale runs scaleWarmup's events of op from 64 callers, untimed.
func warmScale(b *testing.B, op func(r *rand.Rand) error) {
	if n := scaleWarmup(); n > 0 {
		run64(b, n, uint64(b.N)<<32, op)
	}
}

var (
	scaleStart = time.Date(2025, 1, 1, 0, 0, 0, 0, testkit.Shanghai)
	scaleNow   = time.Date(2026, 1, 1, 0, 0, 0, 0, testkit.Shanghai)
)

// scaleDef is the order program of the PostgreSQL benchmark (a growth
// rule, a points rule with lots valid 365 days, a two-level ladder) with
// two automatic tags: "recent" (an order in the last 90 days, so that tags
// fall due too) and "big" (orders of 80 or more in all).
func scaleDef() membership.Definition {
	def := testkit.OrderDef()
	def.Tags = &tag.Definition{
		Orders: &tag.Orders{Event: "order", Amount: "amount"},
		Rules: []tag.Rule{
			{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
			{Tag: "big", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString("80")}}},
		},
	}
	return def
}

func scaleMember(i int) string { return "m" + strconv.Itoa(i) }

// scaleOrder is an order of 10 to 99 by member m.
func scaleOrder(id string, m int, at time.Time) event.Event {
	return event.Event{ID: id, Member: scaleMember(m), Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(int64(10 + m%90)))}}
}

// scale is the shared store of a run.
var scale struct {
	once  sync.Once
	err   error
	dir   string
	path  string
	st    *bolt.DB
	p     *membership.Program
	built time.Duration
	size  int64  // the file's size once built and closed
	free  int64  // the bytes of its free pages
	base  string // a copy of the file as built, for the benchmarks that start from it
	// reused is MEMBERSHIP_SCALE_REUSE when the store was taken from
	// there instead of built.
	reused string
	// seq numbers the benchmarks' events; their times follow scaleNow by
	// a millisecond each, and Advance's days run ahead of them.
	seq atomic.Int64
	day atomic.Int64
}

// scaleStore returns the run's store, building it on first use.
func scaleStore(b *testing.B) *membership.Program {
	b.Helper()
	scale.once.Do(func() { scale.err = buildScale() })
	if scale.err != nil {
		b.Fatal(scale.err)
	}
	return scale.p
}

// buildScale builds the scale store: an order for each member, their times
// spread over a year, processed 1,000 at a time with Advance after each
// batch, then Advance to scaleNow; and measures its size at rest.
func buildScale() error {
	n := scaleMembers()
	dir, err := os.MkdirTemp("", "membership-scale-")
	if err != nil {
		return err
	}
	scale.dir, scale.path = dir, filepath.Join(dir, "scale.db")
	scale.base = filepath.Join(dir, "built.db")
	keep := os.Getenv("MEMBERSHIP_SCALE_REUSE")
	if keep != "" {
		if ok, err := reuseScale(keep, n); ok || err != nil {
			return err
		}
	}
	st, err := bolt.Open(scale.path, scaleOptions())
	if err != nil {
		return err
	}
	p, err := membership.Open(st, scaleDef())
	if err != nil {
		return err
	}
	ctx := context.Background()
	began := time.Now()
	step := scaleNow.Sub(scaleStart) / time.Duration(n)
	batch := make([]event.Event, 0, 1000)
	for i := range n {
		batch = append(batch, scaleOrder("b"+strconv.Itoa(i), i, scaleStart.Add(time.Duration(i)*step)))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := p.ProcessBatch(ctx, batch); err != nil {
				return err
			}
			// Due work as a host's scheduler does it, as time passes
			// (every 8.8 hours of the year at a million members): lots
			// expire, tags fall due, retention prunes, and the pages the
			// pruned records held are reused. Advancing once, at the end,
			// left the file half free pages (3.4 KB a member for 1.6 KB
			// of records at 200,000 members): a year of records, pruned
			// in one go.
			if _, err := p.Advance(ctx, batch[len(batch)-1].Time); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if _, err := p.Advance(ctx, scaleNow); err != nil {
		return err
	}
	scale.built = time.Since(began)
	// The size at rest: closed, so that the log is in the file.
	if err := st.Close(); err != nil {
		return err
	}
	fi, err := os.Stat(scale.path)
	if err != nil {
		return err
	}
	scale.size = fi.Size()
	if scale.free, err = freeBytes(scale.path); err != nil {
		return err
	}
	if err := copyFile(scale.path, scale.base); err != nil {
		return err
	}
	if keep != "" {
		if err := keepScale(keep, n); err != nil {
			return err
		}
	}
	return openScale()
}

// openScale opens the run's store at scale.path.
func openScale() error {
	var err error
	if scale.st, err = bolt.Open(scale.path, scaleOptions()); err != nil {
		return err
	}
	scale.p, err = membership.Open(scale.st, scaleDef())
	return err
}

// keepScale saves the store as built, at rest, to path, with path +
// ".members" saying for how many members it was built, for later runs
// with MEMBERSHIP_SCALE_REUSE (see reuseScale).
func keepScale(path string, members int) error {
	if err := copyFile(scale.base, path); err != nil {
		return err
	}
	return os.WriteFile(path+".members", []byte(strconv.Itoa(members)), 0o600)
}

// reuseScale starts the run from the store a run before kept at path
// (MEMBERSHIP_SCALE_REUSE), instead of building it: some 70 seconds less
// a run at a million members, for comparing two versions of the code on
// one store, alternated, many times. It reports false when nothing is
// kept there yet (the run then builds and keeps it), and an error when
// what is kept was built for another member count. The copy is synced
// before the run goes on, so that the OS is not still writing it back
// while the benchmarks run. The file must be of a format both versions
// read, and BenchmarkScaleBuild has nothing to measure (see there).
func reuseScale(path string, members int) (bool, error) {
	kept, err := os.ReadFile(path + ".members")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if string(kept) != strconv.Itoa(members) {
		return false, fmt.Errorf("MEMBERSHIP_SCALE_REUSE: %s was built for %s members, this run has %d", path, kept, members)
	}
	if err := copyFile(path, scale.base); err != nil {
		return false, err
	}
	if err := copyFile(path, scale.path); err != nil {
		return false, err
	}
	for _, name := range []string{scale.base, scale.path} {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			return false, err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return false, err
		}
	}
	scale.reused = path
	return true, openScale()
}

// nextScaleEvent returns a new order of a random member.
func nextScaleEvent(r *rand.Rand) event.Event {
	i := scale.seq.Add(1)
	return scaleOrder("s"+strconv.FormatInt(i, 10), r.IntN(scaleMembers()), scaleNow.Add(time.Duration(i)*time.Millisecond))
}

// reportMemory reports the Go heap in use and the process's anonymous
// resident memory (Linux; what the OS caches of the file is not in it).
func reportMemory(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	if kb := rssAnon(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "anon-MB")
	}
}

// meterCPU starts measuring the processor time of the process (see
// processCPU); the function it returns reports it divided by events, as
// cpu-µs/event (not where processCPU has no figure). On two cores the
// throughput can be no more than two seconds over this figure, whatever
// the arrangement of the work (BENCHMARKS.md, issue 15).
func meterCPU() func(b *testing.B, events int) {
	start, ok := processCPU()
	return func(b *testing.B, events int) {
		end, _ := processCPU()
		if ok && events > 0 {
			b.ReportMetric(float64((end-start).Microseconds())/float64(events), "cpu-µs/event")
		}
	}
}

// meterCheckpoints starts reading the checkpoints' counters of st; the
// function it returns reports, over the load, the share of its time a
// checkpoint was running (ckpt-busy-%) and in bbolt's commits
// (ckpt-commit-%), and the pages they wrote an event (ckpt-pages/event).
// A checkpoint counts when it commits, all of it: one running when the
// load ends is left out, one that began before it is in.
func meterCheckpoints(st *bolt.DB) func(b *testing.B, events int) {
	start := st.Stats()
	return func(b *testing.B, events int) {
		end := st.Stats()
		if s := b.Elapsed().Seconds(); s > 0 {
			b.ReportMetric(100*(end.CheckpointTime-start.CheckpointTime).Seconds()/s, "ckpt-busy-%")
			b.ReportMetric(100*(end.CheckpointCommitTime-start.CheckpointCommitTime).Seconds()/s, "ckpt-commit-%")
		}
		if events > 0 {
			b.ReportMetric(float64(end.CheckpointWrites-start.CheckpointWrites)/float64(events), "ckpt-pages/event")
		}
		b.ReportMetric(float64(end.SlowedFor-start.SlowedFor)/float64(time.Millisecond), "slowed-ms")
	}
}

// meterLoad starts the meters of a load of b: memory (watchMemory),
// processor time (meterCPU) and, when st is not nil, its checkpoints
// (meterCheckpoints). The function it returns, called once the timer is
// stopped, reports them and the events a second of the load's events.
func meterLoad(b *testing.B, st *bolt.DB) (report func(events int)) {
	peak := watchMemory(b)
	cpu := meterCPU()
	ckpt := func(*testing.B, int) {}
	if st != nil {
		ckpt = meterCheckpoints(st)
	}
	return func(events int) {
		peak()
		cpu(b, events)
		ckpt(b, events)
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	}
}

// rssAnon returns the process's anonymous resident memory in KiB (Linux;
// 0 elsewhere).
func rssAnon() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

// watchMemory returns the OS the memory the heap freed (so that what the
// benchmarks before left does not count), then samples the heap's spans
// in use and the anonymous resident memory every 20 ms until the
// function it returns is called, which reports their peaks: the memory
// the load itself took, at its worst.
func watchMemory(b *testing.B) (report func()) {
	debug.FreeOSMemory()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	var peakHeap uint64
	peakAnon := 0
	sample := func() {
		metrics.Read(samples)
		peakHeap = max(peakHeap, samples[0].Value.Uint64()+samples[1].Value.Uint64())
		peakAnon = max(peakAnon, rssAnon())
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
		if peakAnon > 0 {
			b.ReportMetric(float64(peakAnon)/1024, "peak-anon-MB")
		}
	}
}

// latencies collects call times and reports their percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(l.d[len(l.d)/2]), "p50-ms")
	b.ReportMetric(ms(l.d[len(l.d)*99/100]), "p99-ms")
	b.ReportMetric(ms(l.d[len(l.d)-1]), "max-ms")
}

// runScale64 runs op from 64 goroutines b.N times in all, after
// warmScale's events, timing each call; st, when not nil, is the store
// whose checkpoints it reports (see meterCheckpoints).
func runScale64(b *testing.B, st *bolt.DB, op func(r *rand.Rand) error) {
	warmScale(b, op)
	n := b.N * scaleEvents()
	meters := meterLoad(b, st)
	b.ResetTimer()
	lat := run64(b, n, uint64(b.N), op)
	b.StopTimer()
	meters(n)
	lat.report(b)
	reportMemory(b)
}

// run64 runs op n times in all from 64 goroutines, their random sources
// seeded with seed, and returns the calls' times.
func run64(b *testing.B, n int, seed uint64, op func(r *rand.Rand) error) *latencies {
	var lat latencies
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), seed))
			var mine []time.Duration
			for left.Add(-1) >= 0 {
				began := time.Now()
				if err := op(r); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(began))
			}
			lat.add(mine)
		}()
	}
	wg.Wait()
	return &lat
}

// BenchmarkScaleBuild reports what building the store took: its size at
// rest per member, and the events per second of ProcessBatch while
// building it.
func BenchmarkScaleBuild(b *testing.B) {
	scaleStore(b)
	if scale.reused != "" {
		b.Skipf("the store was taken from %s (MEMBERSHIP_SCALE_REUSE): its build was measured in the run that built it", scale.reused)
	}
	for range b.N {
	}
	b.ReportMetric(float64(scale.size)/float64(scaleMembers()), "file-B/member")
	b.ReportMetric(float64(scale.size-scale.free)/float64(scaleMembers()), "used-B/member")
	b.ReportMetric(float64(scaleMembers())/scale.built.Seconds(), "build-events/s")
}

// freeBytes returns the bytes of the free pages of the bbolt file at path:
// the pages bbolt took for copies and for records since pruned, which it
// reuses but never gives back.
func freeBytes(path string) (int64, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	st := db.Stats()
	return int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize), nil
}

func BenchmarkScaleProcess1(b *testing.B) {
	p := scaleStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, uint64(b.N)))
	var lat latencies
	n := b.N * scaleEvents()
	d := make([]time.Duration, 0, n)
	warmScale(b, scaleProcess(b))
	meters := meterLoad(b, scale.st)
	b.ResetTimer()
	for range n {
		began := time.Now()
		if _, err := p.Process(ctx, nextScaleEvent(r)); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(began))
	}
	b.StopTimer()
	meters(n)
	lat.add(d)
	lat.report(b)
	reportMemory(b)
}

func BenchmarkScaleProcess64(b *testing.B) {
	op := scaleProcess(b)
	runScale64(b, scale.st, op)
}

// scaleProcess returns the call of the Process benchmarks: an order of a
// random member, processed on the scale store.
func scaleProcess(b *testing.B) func(r *rand.Rand) error {
	p := scaleStore(b)
	ctx := context.Background()
	return func(r *rand.Rand) error {
		_, err := p.Process(ctx, nextScaleEvent(r))
		return err
	}
}

// scalePacedRates are the rates the paced benchmarks offer, in events a
// second: from a quarter to three quarters of what two cores process with
// 64 callers at a million members (17,000–21,000), to show the latency a
// server sees below the store's limit rather than at it.
var scalePacedRates = []int{5000, 10000, 15000}

// BenchmarkScaleProcessPaced is Process offered at fixed rates (see
// runScalePaced).
func BenchmarkScaleProcessPaced(b *testing.B) {
	op := scaleProcess(b)
	runScalePaced(b, scale.st, op)
}

// runScalePaced runs a sub-benchmark per rate of scalePacedRates that
// offers op at that rate, b.N times scaleEvents() calls, as a server's
// requests arrive: call i is due at start + i/rate and is made then on a
// goroutine of its own, however many calls are still running, and its
// latency is counted from when it was due. A stall then delays every call
// due while it lasts, and they all count it (a closed loop, as
// runScale64, makes fewer calls while it is slow and leaves that out).
// events/s is the rate reached, below the one offered when op cannot keep
// up. late-p99-ms is how late the goroutine that starts the calls woke
// for them (the 99th percentile over the calls): the machine's scheduling
// delay, which every latency figure includes, as a server's would. st is
// as for runScale64.
func runScalePaced(b *testing.B, st *bolt.DB, op func(r *rand.Rand) error) {
	warmScale(b, op)
	for _, rate := range scalePacedRates {
		b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) {
			n := b.N * scaleEvents()
			every := time.Second / time.Duration(rate)
			lat := make([]time.Duration, n)
			late := make([]time.Duration, 0, n)
			var wg sync.WaitGroup
			meters := meterLoad(b, st)
			b.ResetTimer()
			start := time.Now()
			for i := range n {
				due := start.Add(time.Duration(i) * every)
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				}
				late = append(late, time.Since(due))
				wg.Go(func() {
					if err := op(rand.New(rand.NewPCG(uint64(i), uint64(rate)))); err != nil {
						b.Error(err)
					}
					lat[i] = time.Since(due)
				})
			}
			wg.Wait()
			b.StopTimer()
			meters(n)
			var l latencies
			l.add(lat)
			l.report(b)
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)*99/100])/float64(time.Millisecond), "late-p99-ms")
			reportMemory(b)
		})
	}
}

func BenchmarkScaleProcessBatch(b *testing.B) {
	p := scaleStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2, uint64(b.N)))
	batch := make([]event.Event, 0, 1000)
	n := b.N * scaleEvents()
	warmScale(b, scaleProcess(b))
	meters := meterLoad(b, scale.st)
	b.ResetTimer()
	for i := 0; i < n; i += cap(batch) {
		batch = batch[:0]
		for j := i; j < i+cap(batch) && j < n; j++ {
			batch = append(batch, nextScaleEvent(r))
		}
		if _, err := p.ProcessBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	meters(n)
	reportMemory(b)
}

// BenchmarkScaleAdvanceDay advances a week of 2026 an iteration, a day a
// call: the lots of that day of 2025 expire, "recent" tags fall due, and
// retention makes its daily pass. ns/op is a week's.
func BenchmarkScaleAdvanceDay(b *testing.B) {
	p := scaleStore(b)
	ctx := context.Background()
	items := 0
	b.ResetTimer()
	for range b.N * 7 {
		d := scale.day.Add(1)
		n, err := p.Advance(ctx, scaleNow.AddDate(0, 0, int(d)))
		if err != nil {
			b.Fatal(err)
		}
		items += n
	}
	b.StopTimer()
	b.ReportMetric(float64(items)/float64(b.N*7), "items/day")
	reportMemory(b)
}

func BenchmarkScaleStatementPage(b *testing.B) {
	p := scaleStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, uint64(b.N)))
	n := b.N * scaleEvents()
	b.ResetTimer()
	for range n {
		m := scaleMember(r.IntN(scaleMembers()))
		page, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount(m, ledger.Points("mall"), ""), Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Entries) == 0 {
			b.Fatalf("%s has no statement", m)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/page")
}

// BenchmarkScaleSegmentPage reads pages of 100 members tagged "big"
// (those whose amount is 80 or more: 20 in 90), from a random place.
func BenchmarkScaleSegmentPage(b *testing.B) {
	p := scaleStore(b)
	ctx := context.Background()
	expr := tag.MustParse("big")
	r := rand.New(rand.NewPCG(4, uint64(b.N)))
	n := b.N * scaleEvents()
	b.ResetTimer()
	for range n {
		after := scaleMember(r.IntN(scaleMembers()))
		if _, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: expr, After: after, Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/page")
}

const scaleChildEnv = "MEMBERSHIP_SCALE_CHILD_DB"

// scaleCrashAfter is how long BenchmarkScaleOpenAfterCrash's child writes
// before it is killed: MEMBERSHIP_SCALE_CRASH_AFTER seconds, default 1. A
// longer run leaves more log to replay, up to a checkpoint's worth and
// the one running (at a million members, about 20 seconds of load).
func scaleCrashAfter() time.Duration {
	if n, err := strconv.ParseFloat(os.Getenv("MEMBERSHIP_SCALE_CRASH_AFTER"), 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second))
	}
	return time.Second
}

// BenchmarkScaleOpenAfterCrash copies the store, has a child process
// process events on the copy from 64 goroutines (scaleCrashAfter), kills it
// with SIGKILL, and times Open on what it left (the log replayed), and
// reports how many batches it replayed.
func BenchmarkScaleOpenAfterCrash(b *testing.B) {
	scaleStore(b)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "crash.db")
		if err := copyFile(scale.base, path); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestScaleCrashChild$")
		cmd.Env = append(os.Environ(), scaleChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != "ready" {
		}
		time.Sleep(scaleCrashAfter()) // under load: a benchmark, not a test
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		peak := watchMemory(b)
		var logged bytes.Buffer
		b.StartTimer()
		began := time.Now()
		opts := scaleOptions()
		opts.Logger = slog.New(slog.NewTextHandler(&logged, nil))
		st, err := bolt.Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(began)
		b.StopTimer()
		peak()
		reportMemory(b)
		if _, rest, ok := strings.Cut(logged.String(), " records="); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			b.ReportMetric(float64(n), "replayed-batches")
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "open-s")
}

// copyFile copies a file, streaming: reading a store of gigabytes into
// memory would weigh on the heap the benchmarks after it report.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestScaleCrashChild is BenchmarkScaleOpenAfterCrash's child; it does
// nothing unless run as one.
func TestScaleCrashChild(t *testing.T) {
	path := os.Getenv(scaleChildEnv)
	if path == "" {
		return
	}
	st, err := bolt.Open(path, scaleOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, scaleDef())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	ctx := context.Background()
	var seq atomic.Int64
	seq.Store(1 << 40) // after every event of the parent's
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for {
				i := seq.Add(1)
				ev := scaleOrder("c"+strconv.FormatInt(i, 10), r.IntN(scaleMembers()), scaleNow.Add(time.Duration(i%(1<<30))*time.Millisecond))
				if _, err := p.Process(ctx, ev); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkScaleClose times Close after a burst of 64 callers: what the
// last checkpoint has left to write.
func BenchmarkScaleClose(b *testing.B) {
	scaleStore(b)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "close.db")
		if err := copyFile(scale.base, path); err != nil {
			b.Fatal(err)
		}
		st, err := bolt.Open(path, scaleOptions())
		if err != nil {
			b.Fatal(err)
		}
		p, err := membership.Open(st, scaleDef())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		var seq atomic.Int64
		seq.Store(1 << 41)
		peak := watchMemory(b) // the burst's and Close's
		for g := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 9))
				for range 20_000 / 64 {
					i := seq.Add(1)
					ev := scaleOrder("x"+strconv.FormatInt(i, 10), r.IntN(scaleMembers()), scaleNow.Add(time.Duration(i%(1<<30))*time.Millisecond))
					if _, err := p.Process(ctx, ev); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.StartTimer()
		began := time.Now()
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		total += time.Since(began)
		b.StopTimer()
		peak()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "close-s")
}

// The baselines: what a team would write on bbolt itself for a small
// part of an order (the PostgreSQL baseline's work: record the event ID,
// add to the member's growth, check the threshold, append a ledger row
// and a lot), on a file holding as many members with one order each.

var baseline struct {
	once sync.Once
	err  error
	dir  string
	db   *bbolt.DB
	seq  atomic.Int64
}

func baselineDB(b *testing.B) *bbolt.DB {
	b.Helper()
	baseline.once.Do(func() { baseline.err = buildBaseline() })
	if baseline.err != nil {
		b.Fatal(baseline.err)
	}
	return baseline.db
}

var baselineBuckets = []string{"events", "members", "ledger", "lots"}

func buildBaseline() error {
	dir, err := os.MkdirTemp("", "membership-baseline-")
	if err != nil {
		return err
	}
	baseline.dir = dir
	// The map of the store's default, as a user tuning bbolt for a
	// file this size would set: a map that grows stalls every call.
	db, err := bbolt.Open(filepath.Join(dir, "baseline.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, InitialMmapSize: bolt.DefaultInitialMmapSize})
	if err != nil {
		return err
	}
	n := scaleMembers()
	for from := 0; from < n; from += 10_000 {
		err := db.Update(func(tx *bbolt.Tx) error {
			for i := from; i < min(n, from+10_000); i++ {
				if err := baselineOrder(tx, "b"+strconv.Itoa(i), i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	baseline.db = db
	return nil
}

// baselineOrder is the baseline's work for one order of member m.
func baselineOrder(tx *bbolt.Tx, id string, m int) error {
	var bk [4]*bbolt.Bucket
	for i, name := range baselineBuckets {
		var err error
		if bk[i], err = tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	if bk[0].Get([]byte(id)) != nil {
		return nil // a repeat
	}
	if err := bk[0].Put([]byte(id), []byte{1}); err != nil {
		return err
	}
	member := []byte(scaleMember(m))
	amount := decimal.NewFromInt(int64(10 + m%90))
	growth, seq := amount, uint64(1)
	if v := bk[1].Get(member); v != nil {
		old, err := decimal.NewFromString(string(v[8:]))
		if err != nil {
			return err
		}
		growth, seq = growth.Add(old), binary.BigEndian.Uint64(v)+1
	}
	level := byte(0)
	if growth.GreaterThanOrEqual(decimal.NewFromInt(1000)) {
		level = 1
	}
	rec := binary.BigEndian.AppendUint64(nil, seq)
	if err := bk[1].Put(member, append(rec, growth.String()...)); err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(bytes.Clone(member), seq)
	if err := bk[2].Put(key, append([]byte{level}, amount.String()...)); err != nil {
		return err
	}
	return bk[3].Put(key, []byte(amount.String()))
}

// BenchmarkScaleBboltBatch64 is bbolt's DB.Batch with MaxBatchSize equal
// to the 64 callers (its timer then rarely fires).
func BenchmarkScaleBboltBatch64(b *testing.B) {
	db := baselineDB(b)
	db.MaxBatchSize = 64
	runScale64(b, nil, func(r *rand.Rand) error {
		i := baseline.seq.Add(1)
		return db.Batch(func(tx *bbolt.Tx) error {
			return baselineOrder(tx, "s"+strconv.FormatInt(i, 10), r.IntN(scaleMembers()))
		})
	})
}

// BenchmarkScaleBboltRecord64 is the floor under the baselines: DB.Batch
// with MaxBatchSize 64 where a call reads and rewrites one member's
// record and nothing else (no event ID, ledger row or lot). It is not a
// member program; it says what one synced bbolt batch of random pages
// costs on the host, which an order cannot beat.
func BenchmarkScaleBboltRecord64(b *testing.B) {
	db := baselineDB(b)
	db.MaxBatchSize = 64
	runScale64(b, nil, func(r *rand.Rand) error {
		member := []byte(scaleMember(r.IntN(scaleMembers())))
		return db.Batch(func(tx *bbolt.Tx) error {
			bk := tx.Bucket([]byte("members"))
			v := bk.Get(member)
			if len(v) < 8 {
				return fmt.Errorf("baseline member %s: record of %d bytes", member, len(v))
			}
			rec := bytes.Clone(v)
			binary.BigEndian.PutUint64(rec, binary.BigEndian.Uint64(rec)+1)
			return bk.Put(member, rec)
		})
	})
}

// BenchmarkScaleBboltGroup64 is a plain group commit on bbolt's own
// transactions: one goroutine takes what the callers queued and runs it
// in one Update, with no timer (what store/bolt did before its log).
func BenchmarkScaleBboltGroup64(b *testing.B) {
	op, stop := baselineGroup(b, "g")
	defer stop()
	runScale64(b, nil, op)
}

// BenchmarkScaleBboltGroupPaced is BenchmarkScaleBboltGroup64's group
// commit offered at the rates of BenchmarkScaleProcessPaced (see
// runScalePaced). With no timer, it is the fair baseline at a set rate:
// DB.Batch waits out its 10 ms timer whenever fewer than MaxBatchSize
// calls are waiting.
func BenchmarkScaleBboltGroupPaced(b *testing.B) {
	op, stop := baselineGroup(b, "q")
	defer stop()
	runScalePaced(b, nil, op)
}

// baselineGroup starts the group committer of the baseline store and
// returns the call that queues an order to it (under ids beginning with
// prefix) and waits for its commit, and the function that stops it.
func baselineGroup(b *testing.B, prefix string) (op func(r *rand.Rand) error, stop func()) {
	db := baselineDB(b)
	type req struct {
		id   string
		m    int
		done chan error
	}
	queue := make(chan req, 64)
	stopped := make(chan struct{})
	go func() {
		for {
			var reqs []req
			select {
			case r := <-queue:
				reqs = append(reqs, r)
			case <-stopped:
				return
			}
		more:
			for {
				select {
				case r := <-queue:
					reqs = append(reqs, r)
				default:
					break more
				}
			}
			err := db.Update(func(tx *bbolt.Tx) error {
				for _, r := range reqs {
					if err := baselineOrder(tx, r.id, r.m); err != nil {
						return err
					}
				}
				return nil
			})
			for _, r := range reqs {
				r.done <- err
			}
		}
	}()
	op = func(r *rand.Rand) error {
		i := baseline.seq.Add(1)
		done := make(chan error, 1)
		queue <- req{id: prefix + strconv.FormatInt(i, 10), m: r.IntN(scaleMembers()), done: done}
		return <-done
	}
	return op, func() { close(stopped) }
}

// BenchmarkScaleMemoryStore builds the scale store's members on
// store/memory and reports the live heap it holds per member: with the
// order program alone (the benchmark program: growth, points, ladder) and
// with the scale store's two automatic tags as well; and the order program
// with retention turned off (every event and feed record kept).
func BenchmarkScaleMemoryStore(b *testing.B) {
	orderTags := scaleDef()
	keepAll := membership.WithRetention(membership.Retention{Window: -1})
	for _, c := range []struct {
		name string
		def  membership.Definition
		opts []membership.Option
	}{
		{"order", testkit.OrderDef(), nil},
		{"order+tags", orderTags, nil},
		{"order,no-retention", testkit.OrderDef(), []membership.Option{keepAll}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.ReportMetric(memoryPerMember(b, c.def, c.opts...), "heap-B/member")
			}
		})
	}
}

// memoryPerMember returns the live heap a memory store holds per member
// once the scale store's orders are processed under def and Advance has
// run to 1 January 2026 (a retention pass included).
func memoryPerMember(b *testing.B, def membership.Definition, opts ...membership.Option) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := membership.Open(memory.New(), def, opts...)
	if err != nil {
		b.Fatal(err)
	}
	n := scaleMembers()
	step := scaleNow.Sub(scaleStart) / time.Duration(n)
	batch := make([]event.Event, 0, 1000)
	for i := range n {
		batch = append(batch, scaleOrder("b"+strconv.Itoa(i), i, scaleStart.Add(time.Duration(i)*step)))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := p.ProcessBatch(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := p.Advance(context.Background(), scaleNow); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
