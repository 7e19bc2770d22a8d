package secrets

// Unexported names the external tests of this package use.
var (
	Expand               = expand
	Literal              = literalSource
	ErrTooManyExpansions = errTooManyExpansions
	ErrUndefinedProperty = errUndefinedProperty
)

const MaxExpansions = maxExpansions
