package condition

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// falcoTestdata is the shared copy of Falco's own test vectors.
const falcoTestdata = "../../../shared/testdata/falco"

type parserCase struct {
	Input  string `json:"input"`
	Accept bool   `json:"accept"`
}

func loadParserCases(t testing.TB) []parserCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(falcoTestdata, "parser_cases.json"))
	if err != nil {
		t.Skipf("Falco vectors not available: %v", err)
	}
	var cases []parserCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestFalcoParserCases(t *testing.T) {
	for _, c := range loadParserCases(t) {
		e, err := Parse(c.Input)
		if c.Accept && err != nil {
			t.Errorf("Parse(%q): want accept, got %v", c.Input, err)
			continue
		}
		if !c.Accept && err == nil {
			t.Errorf("Parse(%q): want reject, got %s", c.Input, String(e))
			continue
		}
		if err == nil {
			checkRoundTrip(t, c.Input, e)
		}
	}
}

func checkRoundTrip(t *testing.T, in string, e Expr) {
	t.Helper()
	out := String(e)
	e2, err := Parse(out)
	if err != nil {
		t.Errorf("round trip of %q: Parse(%q): %v", in, out, err)
		return
	}
	if !Equal(e, e2) {
		t.Errorf("round trip of %q: %q parses to %q", in, out, String(e2))
	}
}
