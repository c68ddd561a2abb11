package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServeAssets(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		path, ctype, contains string
	}{
		{"/ui/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", "textContent"},
		{"/ui/app.css", "text/css; charset=utf-8", ".prio"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, http.MethodGet, srv.URL+tt.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for k, want := range map[string]string{
				"Content-Type":            tt.ctype,
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-cache",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			etag := resp.Header.Get("ETag")
			if !regexp.MustCompile(`^"[A-Za-z0-9_-]{16}"$`).MatchString(etag) {
				t.Fatalf("ETag %q", etag)
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				resp, body = get(t, http.MethodGet, srv.URL+tt.path, map[string]string{"If-None-Match": inm})
				if resp.StatusCode != http.StatusNotModified || body != "" {
					t.Errorf("If-None-Match %s: %d, %d bytes", inm, resp.StatusCode, len(body))
				}
			}
			if resp, _ := get(t, http.MethodGet, srv.URL+tt.path, map[string]string{"If-None-Match": `"stale"`}); resp.StatusCode != http.StatusOK {
				t.Errorf("stale ETag: %d", resp.StatusCode)
			}
			if resp, body := get(t, http.MethodHead, srv.URL+tt.path, nil); resp.StatusCode != http.StatusOK || body != "" {
				t.Errorf("HEAD: %d %q", resp.StatusCode, body)
			}
		})
	}
	for _, p := range []string{"/ui/nope.js", "/ui/index.html", "/ui/static/app.js", "/ui/../ui.go"} {
		// 404, or the mux's redirect to the cleaned path: never a file.
		if resp, _ := get(t, http.MethodGet, srv.URL+p, nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusTemporaryRedirect {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/ui"} {
		resp, _ := get(t, http.MethodGet, srv.URL+p, nil)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("%s: %d to %q", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := get(t, http.MethodPost, srv.URL+"/ui/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d", resp.StatusCode)
	}
}

// The assets must keep to what the CSP and the XSS rule demand: no inline
// script or style, no HTML built from strings, nothing from elsewhere.
func TestAssetsAreSafe(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	js := string(h.assets["app.js"].body)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('on", "javascript:"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	for name, a := range h.assets {
		body := string(a.body)
		if regexp.MustCompile(`https?://`).MatchString(strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")) {
			t.Errorf("%s refers to another origin", name)
		}
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(body) || !regexp.MustCompile(`<script src=`).MatchString(body) {
			t.Errorf("%s: inline script", name)
		}
		if strings.Contains(body, "<style") || regexp.MustCompile(`\sstyle=`).MatchString(body) || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s: inline style or event handler", name)
		}
	}
}
