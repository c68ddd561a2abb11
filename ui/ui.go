// Package ui is lanner-router's web UI: hand-written HTML, CSS and vanilla
// JavaScript embedded into the binary, served under /ui/. The page talks to
// the router's JSON API only (outputs, dead letters, recent alerts); it has
// no build step and loads nothing from elsewhere.
//
// Alerts are attacker-influenced (file names, command lines), so the script
// builds every element with textContent, never HTML from data, and the
// pages carry a Content-Security-Policy that allows no inline script or
// style and nothing from other origins.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Security headers of every UI response.
const (
	// ContentSecurityPolicy allows the page's own script, style and API
	// calls and nothing else: no inline code, no other origin, no framing.
	ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

type asset struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the UI's files under /ui/.
type Handler struct {
	assets map[string]asset // by path below /ui/ ("" is index.html)
}

// New returns the UI handler with every asset loaded and its ETag computed.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		h.assets[name] = asset{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			contentType: contentType(name)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: reading embedded assets: %w", err)
	}
	if _, ok := h.assets["index.html"]; !ok {
		return nil, fmt.Errorf("ui: index.html is not embedded")
	}
	h.assets[""] = h.assets["index.html"]
	return h, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// Register mounts the UI on mux: GET /ui/... for the files, and /ui
// redirects to /ui/. (GET / stays as it is: POST / is Falco's ingest path.)
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /ui/", h)
	redirect := func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	}
	mux.HandleFunc("GET /ui", redirect)
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// ServeHTTP serves one asset with its ETag. Assets are revalidated on each
// load (no-cache) and answered 304 when unchanged, so an upgraded router is
// picked up at once while repeat loads cost one small request per file.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	setSecurityHeaders(hdr)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/ui/")
	a, found := h.assets[name]
	if !ok || !found || name == "index.html" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hdr.Set("ETag", a.etag)
	hdr.Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// etagMatch implements If-None-Match's weak comparison over a list.
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
