package alertjson

import (
	"encoding/binary"
	"slices"
	"strings"
)

// Field is one output_fields entry.
type Field struct {
	Key   string
	Value any
	// prefix is Key's first eight bytes, big-endian, zero-padded: ordering
	// by it first orders as the keys do (a zero pad sorts before any byte,
	// as a shorter string before a longer one), and most comparisons end
	// there without comparing strings.
	prefix uint64
}

// SortedFields appends m's entries to dst in key order, as encoding/json
// orders a map's keys. Collecting the values with the keys saves a map
// lookup per field, and comparing prefixes makes the sort of a typical
// alert's ten to twenty fields several times cheaper than sorting strings
// (profiled: the largest share of encoding an alert).
func SortedFields(dst []Field, m map[string]any) []Field {
	start := len(dst)
	for k, v := range m {
		var b [8]byte
		copy(b[:], k)
		dst = append(dst, Field{Key: k, Value: v, prefix: binary.BigEndian.Uint64(b[:])})
	}
	s := dst[start:]
	if len(s) > 32 {
		slices.SortFunc(s, func(a, b Field) int {
			if a.prefix != b.prefix {
				if a.prefix < b.prefix {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Key, b.Key)
		})
		return dst
	}
	for i := 1; i < len(s); i++ { // insertion sort: few fields
		for j := i; j > 0 && s[j].before(&s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return dst
}

func (f *Field) before(g *Field) bool {
	if f.prefix != g.prefix {
		return f.prefix < g.prefix
	}
	return f.Key < g.Key
}
