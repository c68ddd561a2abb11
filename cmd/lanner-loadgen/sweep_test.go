package main

import (
	"slices"
	"testing"
)

func TestParseCounts(t *testing.T) {
	for in, want := range map[string][]int{
		"64":            {64},
		"256,64,128,64": {64, 128, 256},
		" 1 , 4096":     {1, 4096},
	} {
		got, err := parseCounts(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "64,", "x", "4097", "-1"} {
		if _, err := parseCounts(in); err == nil {
			t.Errorf("parseCounts(%q): no error", in)
		}
	}
}

func TestHTTPSweepKeepsPhaseOneOnly(t *testing.T) {
	rs := []result{{name: "phase 1", senders: 64}, {name: "phase 2"}, {name: "phase 1", senders: 256}, {name: "phase 3"}}
	got := httpSweep(rs)
	if len(got) != 2 || got[0].senders != 64 || got[1].senders != 256 {
		t.Fatalf("httpSweep = %+v", got)
	}
}
