package membership

// benefitPart returns the benefit part, or nil when the definition has none.
func (p *Program) benefitPart() part { return nil }

// hasAchievement reports whether the definition has the achievement.
func (e defEnv) hasAchievement(name string) bool { return false }
