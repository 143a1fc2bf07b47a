package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// An Update whose function fails leaves nothing behind.
func ExampleNew() {
	st := memory.New()
	ctx := context.Background()
	errRefused := errors.New("refused")
	_ = st.Update(ctx, func(tx store.Tx) error { return tx.Put("stock", []byte("coupon-A"), []byte("50")) })
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("stock", []byte("coupon-A"), []byte("49")); err != nil {
			return err
		}
		return errRefused // e.g. the member is not eligible
	})
	fmt.Println(errors.Is(err, errRefused))
	_ = st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get("stock", []byte("coupon-A"))
		fmt.Println(string(v), err)
		return nil
	})
	// Output:
	// true
	// 50 <nil>
}
