// Package cli is what the example programs share: their command line,
// opening a program from its JSON definition on a new bolt file, and the
// progress bar they show while they run. Their command line behaves as a
// Go program's using the flag package's ExitOnError (Parse, Status): the
// usage on standard error, exit status 0 for -h, 2 for a bad flag.
package cli

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/schollz/progressbar/v3"
)

// ErrCannotResume is wrapped by Open's error when -db names a file that
// already holds data: an example cannot resume a run (see Open).
var ErrCannotResume = errors.New("cannot resume a run from an existing -db file")

// Config is an example's command line.
type Config struct {
	Members int
	Months  int
	Seed    uint64
	DB      string // bolt file; empty: a temporary one
	Def     string // definition file; empty: the embedded one
	Short   bool
	// HTML is the file the HTML report is written to; empty: none.
	HTML string
	// Progress shows a progress bar on standard error while the program
	// runs.
	Progress bool
}

// ErrUsage is wrapped by the error of Parse and ParseFlags for a command
// line the flags refuse (an unknown flag, a value of the wrong kind): the
// flag package has printed the error and the usage on stderr.
var ErrUsage = errors.New("bad command line")

// Parse reads the command line of the example called name, which simulates
// months months by default. The usage and the flags' errors are printed
// on stderr; the error is flag.ErrHelp for -h or -help and wraps ErrUsage
// for a bad flag (see Status).
func Parse(name string, months int, args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Members, "members", 3000, "number of members")
	fs.IntVar(&c.Months, "months", months, "months simulated, from January 2025")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the event stream")
	fs.StringVar(&c.DB, "db", "", "bolt file to use (default: a file in a temporary directory, removed at the end)")
	fs.StringVar(&c.Def, "def", "", "program definition to load instead of the embedded program.json")
	fs.StringVar(&c.HTML, "html", name+"-report.html", "file the HTML report with charts is written to (empty: none)")
	fs.BoolVar(&c.Progress, "progress", true, "show a progress bar on standard error while running")
	fs.BoolVar(&c.Short, "short", false, "a small run: 200 members over 3 months (unless -members or -months are given)")
	if err := ParseFlags(fs, args); err != nil {
		return c, err
	}
	if c.Short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["members"] {
			c.Members = 200
		}
		if !set["months"] {
			c.Months = 3
		}
	}
	if c.Members < 1 || c.Months < 1 {
		return c, errors.New("-members and -months must be at least 1")
	}
	return c, nil
}

// ParseFlags parses args with fs, a flag set that continues on error:
// the error is flag.ErrHelp for -h or -help, and wraps ErrUsage for a
// command line the flags refuse.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUsage, err)
}

// Status returns the exit status of an example whose run returned err,
// as the flag package's ExitOnError has a program exit: 0 for nil and
// for flag.ErrHelp (-h or -help: the usage was asked for, and printed),
// 2 for an error wrapping ErrUsage (a bad flag: the flag package printed
// it), and fail for any other error. show says whether err is still to
// be printed: false where it was printed already, or is no error.
func Status(err error, fail int) (code int, show bool) {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0, false
	case errors.Is(err, ErrUsage):
		return 2, false
	}
	return fail, true
}

// Open parses the definition (the embedded one, or -def), opens a bolt
// store (-db, or a temporary file) and the program on it, with the input
// journal on (the what-if replays it). The random source is seeded from
// -seed, so coupon codes and random amounts repeat with the seed too.
// close releases the store and any temporary file.
//
// A -db file that exists and is not empty is refused with an error
// wrapping ErrCannotResume, before the file is opened (so it is left as
// it was): the simulation's side of a run (its members, the host's books
// the report reconciles with the ledger, its random stream) lives in
// memory only, so a second run cannot pick up where the first stopped,
// and running the stream again into the same store would only meet
// duplicates and break the reconciliation.
func Open(name string, c Config, embedded []byte) (p *membership.Program, db store.Store, close func(), err error) {
	raw := embedded
	if c.Def != "" {
		if raw, err = os.ReadFile(c.Def); err != nil {
			return nil, nil, nil, err
		}
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		return nil, nil, nil, err
	}
	path, dir := c.DB, ""
	if path != "" {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return nil, nil, nil, fmt.Errorf("-db %s: %w: the file holds an earlier run, "+
				"and the simulated members, the host's books and the random stream of that run were kept in memory only "+
				"(running the stream again on it would only meet duplicates); remove the file or name a new one", path, ErrCannotResume)
		}
	}
	if path == "" {
		if dir, err = os.MkdirTemp("", name+"-*"); err != nil {
			return nil, nil, nil, err
		}
		path = filepath.Join(dir, name+".db")
	}
	cleanup := func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	bdb, err := bolt.Open(path, nil)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	close = func() { bdb.Close(); cleanup() }
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], c.Seed)
	if p, err = membership.Open(bdb, def, membership.WithRand(rand.NewChaCha8(key)), membership.WithJournal()); err != nil {
		close()
		return nil, nil, nil, err
	}
	return p, bdb, close, nil
}

// Bar is a progress bar on standard error, or nothing (a nil *Bar) when
// -progress is off: its methods do nothing on nil, so the simulations
// call them unconditionally.
type Bar struct{ b *progressbar.ProgressBar }

// NewBar returns a bar counting to total, described by what, or nil when
// c.Progress is off.
func NewBar(c Config, total int64, what string) *Bar {
	if !c.Progress {
		return nil
	}
	return &Bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(100*time.Millisecond),
	)}
}

// Set moves the bar to done.
func (b *Bar) Set(done int64) {
	if b != nil {
		b.b.Set64(done)
	}
}

// Progress moves the bar to done of total, for a task that learns its
// total as it goes (whatif.Options.Progress).
func (b *Bar) Progress(done, total uint64) {
	if b != nil {
		if int64(total) != b.b.GetMax64() {
			b.b.ChangeMax64(int64(total))
		}
		b.b.Set64(int64(done))
	}
}

// Done finishes the bar and clears its line.
func (b *Bar) Done() {
	if b != nil {
		b.b.Finish()
	}
}
