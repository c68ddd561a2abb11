package alertjson

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

func checkSorted(t *testing.T, m map[string]any) {
	t.Helper()
	got := SortedFields(nil, m)
	want := slices.Sorted(maps.Keys(m))
	if len(got) != len(want) {
		t.Fatalf("%d fields, want %d", len(got), len(want))
	}
	for i, f := range got {
		if f.Key != want[i] || f.Value != m[f.Key] {
			t.Fatalf("field %d: %q=%v, want %q=%v", i, f.Key, f.Value, want[i], m[want[i]])
		}
	}
}

// Keys sharing their first eight bytes, shorter than eight, with NUL and
// high bytes, and more than the insertion sort takes.
func TestSortedFields(t *testing.T) {
	tricky := []string{"", "a", "ab", "ab\x00", "ab\x00c", "abc", "container.id", "container.name",
		"container.image.repository", "container", "containe", "proc.name", "proc.pname", "proc.tty",
		"\xff", "é", "Z", "z", "evt.time", "evt.type", "evt.time.s"}
	m := map[string]any{}
	for i, k := range tricky {
		m[k] = i
	}
	checkSorted(t, m)
	big := map[string]any{}
	for i := range 100 {
		big[fmt.Sprintf("k8s.pod.label.%03d", 99-i)] = i
	}
	checkSorted(t, big)
	checkSorted(t, map[string]any{})
	if got := SortedFields([]Field{{Key: "kept"}}, map[string]any{"b": 1, "a": 2}); len(got) != 3 || got[0].Key != "kept" || got[1].Key != "a" {
		t.Fatalf("appending to a non-empty slice: %v", got)
	}
}

// FuzzSortedFields: any set of keys (one per line) comes out in
// encoding/json's order.
func FuzzSortedFields(f *testing.F) {
	f.Add("proc.name\nproc.pname\ncontainer.id\ncontainer.name\n\nab\x00\nab")
	f.Fuzz(func(t *testing.T, keys string) {
		m := map[string]any{}
		for i, k := range strings.Split(keys, "\n") {
			m[k] = i
		}
		checkSorted(t, m)
	})
}
