package main

import (
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/loader"
)

// compileProblems compiles a loaded ruleset with the rules engine and returns
// what the compiler found (unknown fields, operator/type mismatches, bad
// output fields). Disabled rules are compiled too, as Falco does when it
// validates: a rule someone enables later must not bring an error with it.
func compileProblems(rs *loader.Ruleset) []loader.Problem {
	all := *rs
	all.Rules = make([]*loader.Rule, len(rs.Rules))
	for i, r := range rs.Rules {
		c := *r
		c.Enabled = true
		all.Rules[i] = &c
	}
	_, probs := engine.Compile(&all, engine.Options{})
	return probs
}
