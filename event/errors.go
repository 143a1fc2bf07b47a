package event

import "errors"

// Errors shared by every part of a program. The root package and the
// domain packages wrap them, so a host tests them with errors.Is whatever
// call returned them.
var (
	// ErrInvalidEvent is returned for an event that fails validation; the
	// error also wraps the specific cause and names the field.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrConflict is returned for an event ID or request ID already used
	// with different content.
	ErrConflict = errors.New("event or request ID reused with different content")
	// ErrInvalidArgument is returned for a malformed request (an empty
	// member, a negative amount, a missing operator, …).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrRefundExceedsOrder is returned for a refund event that would
	// take what was refunded of an order past the order's amount: the
	// event changes nothing and its ID stays free.
	ErrRefundExceedsOrder = errors.New("refund exceeds the order")
)
