package membership

// couponPart returns the coupon part, or nil when the definition has none.
func (p *Program) couponPart() part { return nil }

// hasTemplate reports whether the definition has the coupon template.
func (e defEnv) hasTemplate(name string) bool { return false }

// hasPack reports whether the definition has the coupon pack.
func (e defEnv) hasPack(name string) bool { return false }
