package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// usageError marks an error in how corral was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// isUsageError recognises corral's own usage errors and cobra's, which are
// plain errors with recognisable texts.
func isUsageError(err error) bool {
	if _, ok := err.(usageError); ok {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires exactly", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// argsUsage wraps a cobra positional-argument validator so its errors are
// usage errors.
func argsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err.Error()}
		}
		return nil
	}
}
