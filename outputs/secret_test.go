package outputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{" keeps spaces \n\n", " keeps spaces "},
		{"no newline", "no newline"},
	} {
		p := filepath.Join(dir, "secret")
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadSecretFile("kafka", "password", p); err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.content, got, err, tc.want)
		}
	}
	_, err := ReadSecretFile("kafka", "password", filepath.Join(dir, "missing"))
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: password_file: ") {
		t.Fatalf("missing file: %v", err)
	}
}
