package engine

import "strings"

// This file holds the string matchers behind the operators. Each works on
// the event's string without allocating.

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// containsFold reports whether s contains lowerNeedle, ignoring ASCII case
// (libsinsp's icontains is ASCII-only too). lowerNeedle must be lower case.
func containsFold(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	if n == 0 {
		return true
	}
	first := lowerNeedle[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == lowerNeedle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// globMatch is fnmatch(3) without FNM_PATHNAME and FNM_PERIOD: '*' matches
// any run of bytes ('/' included), '?' any one byte, [...] a class (with
// '!' or '^' negation and ranges), '\' escapes. fold folds ASCII case
// (iglob); the pattern is then already lower case.
func globMatch(pattern, s string, fold bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, next, valid := matchClass(pattern, p, s[i], fold); valid {
					if ok {
						p = next
						i++
						continue
					}
				} else if s[i] == '[' { // unterminated class: literal '['
					p++
					i++
					continue
				}
			default:
				if c == '\\' && p+1 < len(pattern) {
					c = pattern[p+1]
					if eqByte(c, s[i], fold) {
						p += 2
						i++
						continue
					}
				} else if eqByte(c, s[i], fold) {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func eqByte(pc, c byte, fold bool) bool {
	if fold {
		return pc == lowerASCII(c)
	}
	return pc == c
}

// matchClass matches c against the class starting at pattern[p] == '['.
// valid is false for an unterminated class.
func matchClass(pattern string, p int, c byte, fold bool) (ok bool, next int, valid bool) {
	if fold {
		c = lowerASCII(c)
	}
	j := p + 1
	neg := false
	if j < len(pattern) && (pattern[j] == '!' || pattern[j] == '^') {
		neg = true
		j++
	}
	matched := false
	first := true
	for j < len(pattern) && (first || pattern[j] != ']') {
		first = false
		lo := pattern[j]
		if lo == '\\' && j+1 < len(pattern) {
			j++
			lo = pattern[j]
		}
		j++
		hi := lo
		if j+1 < len(pattern) && pattern[j] == '-' && pattern[j+1] != ']' {
			hi = pattern[j+1]
			if hi == '\\' && j+2 < len(pattern) {
				j++
				hi = pattern[j+1]
			}
			j += 2
		}
		if fold {
			lo, hi = lowerASCII(lo), lowerASCII(hi)
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	if j >= len(pattern) {
		return false, 0, false
	}
	return matched != neg, j + 1, true
}

// strSet is a set of strings: a map above a handful of items, a slice
// below, where a length check plus compare beats hashing.
type strSet struct {
	small []string
	m     map[string]struct{}
	// lengths seen, to reject most misses without hashing
	minLen, maxLen int
}

func newStrSet(items []string) *strSet {
	s := &strSet{minLen: 1 << 30}
	for _, it := range items {
		if len(it) < s.minLen {
			s.minLen = len(it)
		}
		if len(it) > s.maxLen {
			s.maxLen = len(it)
		}
	}
	if len(items) <= 6 {
		s.small = append([]string(nil), items...)
		return s
	}
	s.m = make(map[string]struct{}, len(items))
	for _, it := range items {
		s.m[it] = struct{}{}
	}
	return s
}

func (s *strSet) has(v string) bool {
	if len(v) < s.minLen || len(v) > s.maxLen {
		return false
	}
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.small {
		if x == v {
			return true
		}
	}
	return false
}

// pathSet implements pmatch: v matches when one of the prefixes is v itself
// or a whole-component prefix of it (/usr matches /usr/bin/ls, not /usrx).
type pathSet struct {
	set  map[string]struct{}
	root bool // "/" was given: every absolute path matches
}

func newPathSet(items []string) *pathSet {
	ps := &pathSet{set: make(map[string]struct{}, len(items))}
	for _, it := range items {
		it = strings.TrimRight(it, "/")
		if it == "" {
			ps.root = true
			continue
		}
		ps.set[it] = struct{}{}
	}
	return ps
}

func (ps *pathSet) match(v string) bool {
	if ps.root && strings.HasPrefix(v, "/") {
		return true
	}
	if len(ps.set) == 0 {
		return false
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '/' {
			if _, ok := ps.set[v[:i]]; ok {
				return true
			}
		}
	}
	_, ok := ps.set[strings.TrimRight(v, "/")]
	return ok
}
