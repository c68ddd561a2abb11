package httpout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

func TestClassifyStatus(t *testing.T) {
	cases := []struct {
		code  int
		ra    string
		want  string
		after time.Duration
	}{
		{200, "", "ok", 0}, {204, "", "ok", 0},
		{301, "", "permanent", 0}, {400, "", "permanent", 0}, {401, "", "permanent", 0}, {404, "", "permanent", 0},
		{408, "", "retry", 0}, {429, "", "retry", 0}, {429, "12", "retry", 12 * time.Second},
		{429, "junk", "retry", 0}, {500, "", "retry", 0}, {503, "2", "retry", 2 * time.Second}, {504, "9", "retry", 0},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 5000)))}
		if c.ra != "" {
			resp.Header.Set("Retry-After", c.ra)
		}
		err := Classify(resp, nil)
		got := "ok"
		if err != nil {
			got = map[bool]string{true: "retry", false: "permanent"}[outputs.IsRetryable(err)]
			if len(err.Error()) > maxErrorBody+100 {
				t.Errorf("%d: error text not bounded: %d bytes", c.code, len(err.Error()))
			}
		}
		if got != c.want || outputs.RetryAfterOf(err) != c.after {
			t.Errorf("%d %q: got %s after %s, want %s after %s", c.code, c.ra, got, outputs.RetryAfterOf(err), c.want, c.after)
		}
	}
	err := Classify(nil, &url.Error{Op: "Post", URL: "https://u:p4ssw0rd@h/x?token=t0k3n", Err: context.DeadlineExceeded})
	if !outputs.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "p4ssw0rd") || strings.Contains(err.Error(), "t0k3n") {
		t.Errorf("network error: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true}, {"30", 30 * time.Second, true}, {" 5 ", 5 * time.Second, true}, {"-1", 0, false},
		{"", 0, false}, {"soon", 0, false}, {"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: got %s %v, want %s %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "9999999999999999999", "1.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, time.Now())
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Fatalf("%q: %s %v", s, d, ok)
		}
	})
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://user:pass@example.com/a?token=abc&x=1":              "https://redacted@example.com/a?token=redacted&x=redacted",
		"https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXX": "https://hooks.slack.com/services/redacted",
		"http://127.0.0.1:3100/loki/api/v1/push":                     "http://127.0.0.1:3100/loki/api/v1/push",
		"::bad":                                                      "<redacted-url>",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactorKeepsClass(t *testing.T) {
	r := NewRedactor("tok3n-value", "", "ab")
	base := fmt.Errorf("rejected tok3n-value: %w", errors.New("boom"))
	cases := []struct {
		name string
		err  error
		chk  func(error) bool
	}{
		{"permanent", outputs.Permanent(base), func(e error) bool { return !outputs.IsRetryable(e) }},
		{"retry-after", outputs.RetryAfter(base, 3*time.Second), func(e error) bool { return outputs.RetryAfterOf(e) == 3*time.Second }},
		{"plain", base, outputs.IsRetryable},
		{"canceled", fmt.Errorf("tok3n-value: %w", context.Canceled), func(e error) bool { return errors.Is(e, context.Canceled) }},
		{"partial", &outputs.PartialError{Failed: map[int]error{2: outputs.Permanent(base)}}, func(e error) bool {
			var pe *outputs.PartialError
			return errors.As(e, &pe) && !outputs.IsRetryable(pe.Failed[2])
		}},
	}
	for _, c := range cases {
		got := r.Error(c.err)
		if strings.Contains(got.Error(), "tok3n-value") || !c.chk(got) {
			t.Errorf("%s: %v", c.name, got)
		}
		for e := got; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "tok3n-value") {
				t.Errorf("%s: secret in the chain: %v", c.name, e)
			}
		}
	}
	clean := errors.New("nothing secret")
	if r.Error(clean) != clean {
		t.Error("a clean error should pass through unchanged")
	}
}
