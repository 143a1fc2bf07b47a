package membership

// The domain handles: each domain's operator calls and queries, documented
// in its own package. A handle is built once in Open and is never nil; a
// domain the definition leaves out answers with its ErrNotDefined.
