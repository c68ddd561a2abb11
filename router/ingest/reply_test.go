package ingest

import (
	"encoding/json"
	"testing"
)

// The hand-built POST / answer must be byte-identical to WriteJSON's.
func TestAppendOneReplyMatchesJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rep   oneReply
		plain bool
	}{
		{"no outputs", oneReply{UUID: "0d8e3a4c-5f1e-4b2a-9c3d-000000000001", Status: "queued", Outputs: []string{}}, true},
		{"one", oneReply{UUID: "u", Status: "duplicate", Outputs: []string{"webhook"}}, true},
		{"two", oneReply{UUID: "u", Status: "queued", Outputs: []string{"a-b_c.d", "x y"}}, true},
		{"html chars", oneReply{UUID: "u", Status: "queued", Outputs: []string{"a<b>&"}}, false},
		{"quote", oneReply{UUID: `u"`, Status: "queued", Outputs: []string{}}, false},
		{"non-ascii", oneReply{UUID: "u", Status: "queued", Outputs: []string{"é"}}, false},
		{"control", oneReply{UUID: "u", Status: "queued", Outputs: []string{"a\tb"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendOneReply(nil, tc.rep)
			if ok != tc.plain {
				t.Fatalf("plain = %v, want %v", ok, tc.plain)
			}
			if !ok {
				return
			}
			want, err := json.Marshal(tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want)+"\n" {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}
