package main

import "github.com/lannerhq/lanner/rules/loader"

// compileProblems compiles a loaded ruleset with the rules engine and returns
// what the compiler found (unknown fields, operator/type mismatches).
// TODO(issue 4): call rules/engine's Compile once it exists; until then
// validate reports loader problems only.
func compileProblems(rs *loader.Ruleset) []loader.Problem {
	return nil
}
