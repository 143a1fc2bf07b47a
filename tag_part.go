package membership

// tagPart returns the tag part, or nil when the definition has none.
func (p *Program) tagPart() part { return nil }
