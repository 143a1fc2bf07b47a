package membership

// levelPart returns the level part, or nil when the definition has none.
func (p *Program) levelPart() part { return nil }
