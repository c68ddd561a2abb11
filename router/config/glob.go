package config

import (
	"errors"
	"unicode/utf8"
)

// Glob is a compiled shell-style pattern: '*' matches any run of characters
// (including '/', unlike path.Match, since rule names and field values are not
// paths), '?' matches one character, and '\' makes the next character literal.
type Glob struct {
	toks []globTok
}

type globTok struct {
	r    rune
	kind uint8
}

const (
	globLit uint8 = iota
	globAny
	globStar
)

// CompileGlob parses a glob pattern.
func CompileGlob(pattern string) (Glob, error) {
	var g Glob
	for i := 0; i < len(pattern); {
		r, size := utf8.DecodeRuneInString(pattern[i:])
		i += size
		switch r {
		case '*':
			if n := len(g.toks); n > 0 && g.toks[n-1].kind == globStar {
				continue // "**" is "*"
			}
			g.toks = append(g.toks, globTok{kind: globStar})
		case '?':
			g.toks = append(g.toks, globTok{kind: globAny})
		case '\\':
			if i >= len(pattern) {
				return Glob{}, errors.New("glob ends with an unfinished escape '\\'")
			}
			r, size = utf8.DecodeRuneInString(pattern[i:])
			i += size
			g.toks = append(g.toks, globTok{r: r})
		default:
			g.toks = append(g.toks, globTok{r: r})
		}
	}
	return g, nil
}

// Match reports whether s matches the whole pattern. It does not allocate.
func (g Glob) Match(s string) bool {
	p := g.toks
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi].kind {
			case globStar:
				starP, starS = pi, si
				pi++
				continue
			case globAny:
				_, size := utf8.DecodeRuneInString(s[si:])
				si += size
				pi++
				continue
			default:
				r, size := utf8.DecodeRuneInString(s[si:])
				if r == p[pi].r {
					si += size
					pi++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star swallow one more character and retry.
		_, size := utf8.DecodeRuneInString(s[starS:])
		starS += size
		si, pi = starS, starP+1
	}
	for pi < len(p) && p[pi].kind == globStar {
		pi++
	}
	return pi == len(p)
}
