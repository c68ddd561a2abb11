package loader

import (
	"sort"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/rules/condition"
)

// file is one rules file being loaded, with its line index.
type file struct {
	name  string
	data  []byte
	lines []int // byte offset at which each line starts
}

func newFile(name string, data []byte) *file {
	f := &file{name: name, data: data, lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	return f
}

// pos converts a byte offset to a Pos (1-based line and byte column).
func (f *file) pos(off int) condition.Pos {
	if off < 0 {
		off = 0
	}
	if off > len(f.data) {
		off = len(f.data)
	}
	l := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
	return condition.Pos{File: f.name, Offset: off, Line: l, Col: off - f.lines[l-1] + 1}
}

// offset converts yaml.v3's 1-based line and (rune) column to a byte offset.
func (f *file) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(f.lines) {
		return len(f.data)
	}
	off := f.lines[line-1]
	for c := 1; c < col && off < len(f.data) && f.data[off] != '\n'; c++ {
		_, n := utf8.DecodeRune(f.data[off:])
		off += n
	}
	return off
}

// nodePos is the position of a YAML node.
func (f *file) nodePos(n *yaml.Node) condition.Pos {
	if n == nil {
		return f.pos(0)
	}
	return f.pos(f.offset(n.Line, n.Column))
}

// TextMap maps byte offsets in a string assembled from YAML scalars (a
// condition, possibly with appended parts, or an output format) back to
// positions in the rules files.
type TextMap struct {
	segs []segment
}

type segment struct {
	start int     // offset of the segment in the assembled string
	f     *file   // file holding the scalar
	offs  []int32 // file offset of each byte of the segment's text
	end   int32   // file offset just past the scalar's content
}

// Pos returns the file position of byte offset off of the mapped string. An
// offset past the end maps to the end of the last segment.
func (m *TextMap) Pos(off int) condition.Pos {
	if m == nil || len(m.segs) == 0 {
		return condition.Pos{}
	}
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].start > off }) - 1
	if i < 0 {
		i = 0
	}
	s := m.segs[i]
	k := off - s.start
	if k < 0 {
		k = 0
	}
	if k >= len(s.offs) {
		return s.f.pos(int(s.end))
	}
	return s.f.pos(int(s.offs[k]))
}

// text is a string assembled from scalars, with its map.
type text struct {
	s string
	m TextMap
}

// scalarText maps a scalar node's decoded value to offsets in f. It aligns
// the value with the raw bytes greedily: each non-blank byte of the value is
// matched with the next identical raw byte, and blanks map to the current raw
// position. That is exact for plain, folded (>) and literal (|) scalars and
// for quoted scalars without escapes, and close enough otherwise.
func scalarText(f *file, n *yaml.Node) text {
	val := n.Value
	start := f.offset(n.Line, n.Column)
	switch n.Style & (yaml.LiteralStyle | yaml.FoldedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle) {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the block header.
		for start < len(f.data) && f.data[start] != '\n' {
			start++
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		start++
	}
	offs := make([]int32, len(val))
	j := start
	for i := 0; i < len(val); i++ {
		c := val[i]
		if c == ' ' || c == '\n' || c == '\t' {
			offs[i] = int32(j)
			if j < len(f.data) && f.data[j] == c {
				j++
			}
			continue
		}
		// The bounded look-ahead keeps hostile input (escapes whose decoded
		// bytes never appear raw) linear.
		k, limit := j, min(len(f.data), j+maxLookahead)
		for k < limit && f.data[k] != c {
			k++
		}
		if k >= limit {
			// Not found (escape sequences): keep the current position.
			offs[i] = int32(j)
			continue
		}
		offs[i] = int32(k)
		j = k + 1
	}
	return text{s: val, m: TextMap{segs: []segment{{start: 0, f: f, offs: offs, end: int32(j)}}}}
}

// maxLookahead bounds how far scalarText searches for a value's next byte.
const maxLookahead = 1024

// appendText returns a + " " + b, as Falco joins appended conditions and outputs.
func appendText(a, b text) text {
	if a.s == "" {
		return b
	}
	out := text{s: a.s + " " + b.s}
	out.m.segs = append(out.m.segs, a.m.segs...)
	shift := len(a.s) + 1
	for _, s := range b.m.segs {
		s.start += shift
		out.m.segs = append(out.m.segs, s)
	}
	return out
}
