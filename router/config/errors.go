package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error is one configuration problem with its position. File is the config
// file, or "$NAME" for an environment variable; Line is 0 when unknown.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

// errList collects every problem of one pass so a user fixes them all at once.
type errList struct {
	errs    []*Error
	seen    map[string]bool
	dropped int
}

// maxErrors bounds a report: past it a file is more broken than worth listing.
const maxErrors = 100

func (l *errList) add(file string, line int, format string, args ...any) {
	l.addErr(&Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) addErr(e *Error) {
	key := e.Error()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, e)
}

// join sorts problems by position and joins them (nil when there are none).
func (l *errList) join() error {
	if len(l.errs) == 0 {
		return nil
	}
	sorted := slices.Clone(l.errs)
	slices.SortStableFunc(sorted, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	errs := make([]error, len(sorted), len(sorted)+1)
	for i, e := range sorted {
		errs[i] = e
	}
	if l.dropped > 0 {
		errs = append(errs, fmt.Errorf("... and %d more problems", l.dropped))
	}
	return errors.Join(errs...)
}

// Problems flattens an error returned by Load or Validate into its individual
// problems, each formatted "file:line: message".
func Problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}
