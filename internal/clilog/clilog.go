// Package clilog sets how much of the library's logging the example commands print: the
// library logs through log/slog's default logger (logins, recoveries, a missing older
// alias), which a command-line tool should show only when asked with -v.
package clilog

import "log/slog"

// FlagUsage is the help text of the commands' -v flag.
const FlagUsage = "verbose: also print the library's informational log lines (logins, recoveries)"

// SetVerbose sets the level of the default slog logger, which writes through the log
// package to standard error: warnings and errors only, or with verbose every level (Debug
// and up). It has no effect once a program has called slog.SetDefault.
func SetVerbose(verbose bool) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	slog.SetLogLoggerLevel(level)
}
