package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/lannerhq/lanner/rules/defaultrules"
	"github.com/lannerhq/lanner/rules/loader"
)

// validate loads and compiles rules files and prints every problem as
// file:line:col: message, one per line on stdout.
func validate(args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rules multiFlag
	fs.Var(&rules, "r", "rules `FILE_OR_DIR` (repeatable; later files may override earlier ones)")
	fs.Var(&rules, "rules", "same as -r")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: lanner-agent validate [-r FILE_OR_DIR]... [FILE_OR_DIR]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError{2}
	}
	rules = append(rules, fs.Args()...)

	var srcs []loader.Source
	if len(rules) == 0 {
		srcs = defaultrules.Sources()
	} else {
		var err error
		if srcs, err = loader.ReadFiles(rules...); err != nil {
			fmt.Fprintln(stdout, err.Error())
			return exitError{1}
		}
	}
	rs, probs := loader.Load(srcs...)
	probs = append(probs, compileProblems(rs)...)
	loader.SortProblems(probs, srcs)
	nerr, nwarn := 0, 0
	for _, p := range probs {
		fmt.Fprintln(stdout, p.String())
		if p.Severity == loader.SeverityError {
			nerr++
		} else {
			nwarn++
		}
	}
	logger.Info("rules validated", "files", len(srcs), "rules", len(rs.Rules), "errors", nerr, "warnings", nwarn)
	if nerr > 0 {
		return exitError{1}
	}
	return nil
}
