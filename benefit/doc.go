// Package benefit is the benefit catalog (会员权益) and the achievement
// catalog (会员成就) of a membership program, and the part of the program
// that grants achievements and answers a member's benefits and member
// price. A program hands out its [Handle] (membership.Program.Benefits).
// Its queries check the member they take as an ID (1 to event.MaxIDBytes
// bytes of valid UTF-8 without NUL) and the time as every query time (the
// years 1900 to 2099), and [Handle.MemberPrice] the amount, which must not
// be negative ([ErrNegativeAmount]) nor beyond the limits of a decimal
// (event.CheckDecimal), with or without benefits in the definition: beyond
// that the error wraps event.ErrInvalidArgument and names the field.
//
// # Benefits
//
// A [Benefit] has a name, a type (member discount, exclusive service,
// care, …), an image and a description, and is bound to levels and to
// paid plans by name. A member's benefits at a time are those bound to the
// level they hold or to a plan they hold at that time ([Definition.For],
// [Handle.Of]). A discount benefit carries a [Discount]: [Discount.Price]
// gives the member price of an amount, rounded explicitly (by default to
// the cent, half up) and never above the amount (9.5 at 0.99 rounded up
// to the yuan is 9.5, not 10); [Handle.MemberPrice] picks the lowest price among a
// member's discount benefits, the earlier benefit of the catalog on a tie.
// The part keeps its own copy of the catalog, and the queries return
// copies: editing the definition after the program opened, or what a
// query returned, changes no member's benefits or price.
// Benefits are not granted or stored: they follow the level and the plans
// as they change, and a plan counts until its expiry instant, even before
// Advance has performed the expiry. Nor is their past kept, but the
// level's and the plans' are: a query for a time before the member's
// latest level change or plan change (a purchase, an expiry) answers
// with the level and the plans held then, read back from the level
// history ([Handle.Of]). Before, it answered with the plans held now: a
// time before a purchase had the plan's benefits, one before an expiry
// had not.
//
// # Achievements
//
// An [Achievement] has a name, a type, an icon and an optional link. It is
// granted at most once per member, by a reward (a task's, a level's gift:
// a second one is ignored and publishes nothing) or by an operator
// ([Handle.GrantAchievement]: a second grant is [ErrAlreadyGranted]). Each
// [Grant] records when, by what (Source "task" or "level" for a reward,
// naming the task or the level; "operator", naming the operator) and why.
// A stored grant of another source, of another achievement than its key,
// with no time or naming no one is damage: [Handle.Achievements] fails
// with an error wrapping store.ErrCorrupt (before, the last three were
// listed as they read: a grant of explorer damaged to first-order showed
// first-order, twice once an operator granted it).
//
// The achievements move with the member: export.Openings writes each
// with its time, source and name, and a member migrated in with them
// (migrate.Member.Achievements) holds each as that Grant, its Event the
// import's request and without its note (the file carries none); one given
// by name alone is granted at the row's time by the import's operator.
// Each publishes [ChangeAchievement] with the opening's reason
// (migrate.Rule), and, held, is not granted again: a reward ignores it,
// an operator's grant is ErrAlreadyGranted.
//
// # Changes and storage
//
// A grant publishes [ChangeAchievement] with the [Grant] as payload;
// [EffectsOf] reads the grants of an outcome back as values. The grants
// live in the store bucket "benefit.achievements". The package posts
// nothing to the ledger.
//
// # Relation to the other packages
//
// The package does not import package level: a member's level and plans
// come from whichever part the engine holds as its level reader
// (engine.Unit.MemberLevel and MemberPlans). Rewards of kind achievement
// reach this package's part through the engine, from the part that grants
// them (a task, a level gift).
package benefit
