// Package cli is what the example programs share: their command line and
// opening a program from its JSON definition on a bolt file.
package cli

import (
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/store/bolt"
)

// Config is an example's command line.
type Config struct {
	Members int
	Months  int
	Seed    uint64
	DB      string // bolt file; empty: a temporary one
	Def     string // definition file; empty: the embedded one
	Short   bool
}

// Parse reads the command line of the example called name, which simulates
// months months by default.
func Parse(name string, months int, args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Members, "members", 3000, "number of members")
	fs.IntVar(&c.Months, "months", months, "months simulated, from January 2025")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the event stream")
	fs.StringVar(&c.DB, "db", "", "bolt file to use (default: a file in a temporary directory, removed at the end)")
	fs.StringVar(&c.Def, "def", "", "program definition to load instead of the embedded program.json")
	fs.BoolVar(&c.Short, "short", false, "a small run: 200 members over 3 months (unless -members or -months are given)")
	if err := fs.Parse(args); err != nil {
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

// Open parses the definition (the embedded one, or -def), opens a bolt
// store (-db, or a temporary file) and the program on it. The random
// source is seeded from -seed, so coupon codes and random amounts repeat
// with the seed too. close releases the store and any temporary file.
func Open(name string, c Config, embedded []byte) (p *membership.Program, close func(), err error) {
	raw := embedded
	if c.Def != "" {
		if raw, err = os.ReadFile(c.Def); err != nil {
			return nil, nil, err
		}
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		return nil, nil, err
	}
	path, dir := c.DB, ""
	if path == "" {
		if dir, err = os.MkdirTemp("", name+"-*"); err != nil {
			return nil, nil, err
		}
		path = filepath.Join(dir, name+".db")
	}
	cleanup := func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	db, err := bolt.Open(path, nil)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	close = func() { db.Close(); cleanup() }
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], c.Seed)
	if p, err = membership.Open(db, def, membership.WithRand(rand.NewChaCha8(key))); err != nil {
		close()
		return nil, nil, err
	}
	return p, close, nil
}
