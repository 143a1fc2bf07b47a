package membership

// pointsPart returns the points part, or nil when the definition has none.
func (p *Program) pointsPart() part { return nil }

// hasPointProgram reports whether the definition has the point program.
func (e defEnv) hasPointProgram(name string) bool { return false }
