package tag

// Definition is the tag part of a program definition.
type Definition struct{}

// Check reports the definition's problems.
func (d Definition) Check(env Env) error { return nil }

// Env is what validating a definition needs to look up.
type Env interface{}
