package main

import (
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/loader"
)

// compileProblems compiles a loaded ruleset with the rules engine and returns
// what the compiler found (unknown fields, operator/type mismatches, bad
// output fields).
func compileProblems(rs *loader.Ruleset) []loader.Problem {
	_, probs := engine.Compile(rs, engine.Options{})
	return probs
}
