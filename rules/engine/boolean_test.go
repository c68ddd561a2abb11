package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/synthetic"
)

// testRegistry adds Falco's test fields c.true and c.false: numeric fields
// whose value is 1 and 0, so that c.true=1 holds and c.false=1 does not.
func testRegistry() *fields.Registry {
	return fields.NewRegistry(
		fields.Field{Name: "c.true", Type: fields.TypeUint64, Desc: "test: always 1"},
		fields.Field{Name: "c.false", Type: fields.TypeUint64, Desc: "test: always 0"},
	)
}

func TestFalcoBooleanCases(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(falcoTestdata, "boolean_cases.json"))
	if err != nil {
		t.Skipf("boolean_cases.json not available: %v", err)
	}
	var cases []struct {
		Filter string `json:"filter"`
		Expect bool   `json:"expect"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry()
	ev := synthetic.New(reg, fields.NewEventTypeTable(), "openat").Set("c.true", 1).Set("c.false", 0)
	for _, c := range cases {
		expr, err := condition.Parse(c.Filter)
		if err != nil {
			t.Errorf("%q: parse: %v", c.Filter, err)
			continue
		}
		fn, probs := CompileCondition(expr, reg)
		if fn == nil {
			t.Errorf("%q: compile: %v", c.Filter, probs)
			continue
		}
		if got := fn(ev); got != c.Expect {
			t.Errorf("%q = %v, want %v", c.Filter, got, c.Expect)
		}
	}
}
