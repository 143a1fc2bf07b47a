package membership

// taskPart returns the task part, or nil when the definition has none.
func (p *Program) taskPart() part { return nil }
