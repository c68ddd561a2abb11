package outputs

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecretFile reads the *_file variant of a secret setting: the file's
// content without the trailing newline (or CRLF) that secret mounts and
// editors add. Errors name the output and the key, never the content.
func ReadSecretFile(output, key, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %s_file: %w", output, key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
