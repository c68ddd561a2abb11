package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
)

func TestToken(t *testing.T) {
	off := NewToken("")
	if off.Enabled() || !off.CheckHeader("") || !off.CheckHeader("Bearer x") {
		t.Error("an empty token must turn auth off")
	}
	tok := NewToken("abc")
	tests := []struct {
		header string
		ok     bool
	}{
		{"Bearer abc", true},
		{"bearer abc", true},
		{"BEARER  abc ", true},
		{"Bearer abcd", false},
		{"Bearer ab", false},
		{"Bearer ", false},
		{"abc", false},
		{"Basic abc", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := tok.CheckHeader(tt.header); got != tt.ok {
			t.Errorf("CheckHeader(%q) = %v, want %v", tt.header, got, tt.ok)
		}
	}
}

func TestSplitBatch(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  string
	}{
		{"array", `[{"a":1}, {"b":2}]`, []string{`{"a":1}`, `{"b":2}`}, ""},
		{"array keeps non-objects for Decode to reject", `[1,"x",null]`, []string{`1`, `"x"`, `null`}, ""},
		{"ndjson", "{\"a\":1}\n\n  {\"b\":2}  \r\n", []string{`{"a":1}`, `{"b":2}`}, ""},
		{"ndjson keeps bad lines", "{\"a\":1}\n{bad\n", []string{`{"a":1}`, `{bad`}, ""},
		{"single object", `{"a":1}`, []string{`{"a":1}`}, ""},
		{"empty", "  \n", nil, "empty body"},
		{"empty array", `[]`, nil, "no alerts"},
		{"malformed array", `[{"a":1},`, nil, "malformed JSON array"},
		{"too many (array)", `[1,2,3,4]`, nil, "too many alerts"},
		{"too many (ndjson)", "1\n2\n3\n4\n", nil, "too many alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := splitBatch([]byte(tt.in), 3)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != len(tt.want) {
				t.Fatalf("got %d docs %q, want %q", len(docs), docs, tt.want)
			}
			for i := range docs {
				if string(docs[i]) != tt.want[i] {
					t.Errorf("doc %d = %q, want %q", i, docs[i], tt.want[i])
				}
			}
		})
	}
	if _, err := splitBatch([]byte(`[1,2,3,4]`), 3); !errors.Is(err, errTooManyAlerts) {
		t.Errorf("too many alerts must wrap errTooManyAlerts, got %v", err)
	}
}

func TestLimitedReader(t *testing.T) {
	r := &limitedReader{r: strings.NewReader("12345"), n: 5}
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil || b.String() != "12345" {
		t.Errorf("exactly at the limit: %q, %v", b.String(), err)
	}
	r = &limitedReader{r: strings.NewReader("123456"), n: 5}
	b.Reset()
	if _, err := b.ReadFrom(r); !errors.Is(err, errTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestStatusNames(t *testing.T) {
	for s, want := range map[Status]string{StatusQueued: "queued", StatusDuplicate: "duplicate", StatusRejected: "rejected", StatusFull: "full", Status(9): "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}

// FuzzSplitBatch feeds arbitrary bodies to the batch splitter: it must not
// panic, must respect the alert limit, and every document of a JSON array
// must be valid JSON on its own.
func FuzzSplitBatch(f *testing.F) {
	for _, s := range []string{
		`[{"rule":"r"},{"rule":"s"}]`, "{\"a\":1}\n{\"b\":2}\n", `[`, `]`, "\n\n", `[1,[2],{"3":[4]}]`,
		"{\"a\":\"\n\"}\n", `[{"a":"]"}]`, "\xff\n{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		docs, err := splitBatch(body, 50)
		if err != nil {
			if docs != nil {
				t.Fatal("docs returned with an error")
			}
			return
		}
		if len(docs) == 0 || len(docs) > 50 {
			t.Fatalf("%d docs", len(docs))
		}
		isArray := bytes.HasPrefix(bytes.TrimSpace(body), []byte("["))
		for _, d := range docs {
			if len(bytes.TrimSpace(d)) == 0 {
				t.Fatal("empty document")
			}
			if isArray && !json.Valid(d) {
				t.Fatalf("array element %q is not valid JSON", d)
			}
		}
	})
}

// gatedPipeline accepts everything but holds each Submit until released,
// to observe how many requests are handled at once.
type gatedPipeline struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gatedPipeline) Submit(_ context.Context, alerts []*alert.Alert) ([]Result, error) {
	g.entered <- struct{}{}
	<-g.release
	return make([]Result, len(alerts)), nil
}

func TestMaxInFlight(t *testing.T) {
	g := &gatedPipeline{entered: make(chan struct{}, 10), release: make(chan struct{})}
	mux := http.NewServeMux()
	NewHTTP(HTTPConfig{Pipeline: g, MaxInFlight: 2}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := `{"rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z"}`
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := http.Post(srv.URL+"/", "application/json", strings.NewReader(body))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	<-g.entered
	<-g.entered
	select {
	case <-g.entered:
		t.Fatal("a third request was handled while two held both slots")
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release) // all three complete, the third after a slot frees
	for range 3 {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("status %d", c)
		}
	}
}
