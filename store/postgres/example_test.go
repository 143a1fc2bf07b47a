package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
)

// Several processes open the same database. Each Update below reads a
// member's keys in one round trip and commits its writes with a second,
// and runs again if it conflicts with another process's Update.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, os.Getenv("MEMBERSHIP_PG_DSN"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	var points []byte
	err = s.Update(ctx, func(tx store.Tx) error {
		// Draws and logs may repeat when the function runs again; nothing
		// else may happen outside the transaction.
		reads := []store.Read{{Bucket: "points", Key: []byte("m1")}, {Bucket: "level", Key: []byte("m1")}}
		if err := store.Preload(tx, reads...); err != nil {
			return err
		}
		v, err := tx.Get("points", []byte("m1"))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		points = slices.Clone(v) // the caller uses it once Update returns nil
		return tx.Put("level", []byte("m1"), []byte("gold"))
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("points %q; %d round trips\n", points, s.Stats().RoundTrips)
}
