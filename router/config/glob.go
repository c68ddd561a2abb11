package config

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Glob is a compiled shell-style pattern: '*' matches any run of characters
// (including '/', unlike path.Match, since rule names and field values are not
// paths), '?' matches one character, and '\' makes the next character literal.
type Glob struct {
	toks []globTok
	// segs is set when the pattern has no '?': the literal runs between
	// stars, matched with strings.Index instead of backtracking.
	segs []string
}

type globTok struct {
	lit  string // the literal's bytes as written (invalid UTF-8 kept exact)
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
		lit := pattern[i : i+size]
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
			_, size = utf8.DecodeRuneInString(pattern[i:])
			g.toks = append(g.toks, globTok{lit: pattern[i : i+size]})
			i += size
		default:
			g.toks = append(g.toks, globTok{lit: lit})
		}
	}
	g.compileSegments()
	return g, nil
}

func (g *Glob) compileSegments() {
	var cur strings.Builder
	var segs []string
	for _, t := range g.toks {
		switch t.kind {
		case globAny:
			return // keep the general matcher
		case globStar:
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteString(t.lit)
		}
	}
	g.segs = append(segs, cur.String())
}

// matchSegments matches "s0*s1*...*sn": s0 as prefix, sn as suffix, the
// middle ones leftmost in order (which is optimal for '*'-only patterns).
func (g Glob) matchSegments(s string) bool {
	segs := g.segs
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	if len(s) < len(last) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[:len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// Match reports whether s matches the whole pattern. It does not allocate.
func (g Glob) Match(s string) bool {
	if g.segs != nil {
		return g.matchSegments(s)
	}
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
				if strings.HasPrefix(s[si:], p[pi].lit) {
					si += len(p[pi].lit)
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
