package loader

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"
)

// officialSnippets cuts an official rules file into chunks of a few items,
// each a valid rules file of its own (possibly referring to missing macros).
func officialSnippets(f *testing.F, name string, per int) [][]byte {
	data, err := os.ReadFile(filepath.Join(falcoTestdata, name))
	if err != nil {
		return nil
	}
	var chunks [][]byte
	items := bytes.Split(data, []byte("\n- "))
	for i := 1; i < len(items); i += per {
		var b bytes.Buffer
		for j := i; j < i+per && j < len(items); j++ {
			b.WriteString("- ")
			b.Write(items[j])
			b.WriteString("\n")
		}
		chunks = append(chunks, b.Bytes())
	}
	return chunks
}

func FuzzLoadRules(f *testing.F) {
	for _, n := range officialFiles {
		for _, c := range officialSnippets(f, n, 12) {
			f.Add(c, []byte(nil))
		}
	}
	f.Add([]byte("- list: l\n  items: [a, \"b c\"]\n- macro: m\n  condition: proc.name in (l)\n- rule: R\n  desc: d\n  condition: m and not x.y exists\n  output: o\n  priority: info\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a, b]]\n"),
		[]byte("- rule: R\n  condition: or proc.name = z\n  override:\n    condition: append\n- rule: R\n  enabled: false\n"))
	f.Add([]byte("- macro: a\n  condition: b\n- macro: b\n  condition: a\n"), []byte("- list: l\n  items: [l]\n  append: true\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if os.Getenv("LANNER_FUZZ_WATCHDOG") != "" {
			debug.SetTraceback("all")
			tm := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("slow input: %q %q", a, b)) })
			defer tm.Stop()
		}
		rs, probs := Load(Source{Name: "a.yaml", Data: a}, Source{Name: "b.yaml", Data: b})
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		for _, p := range probs {
			if p.Pos.File == "" || p.Pos.Line < 1 || p.Pos.Col < 1 || p.Msg == "" {
				t.Fatalf("problem without a position or message: %+v", p)
			}
		}
		for _, r := range rs.Rules {
			if r.Condition == nil {
				t.Fatalf("rule %q without condition", r.Name)
			}
		}
	})
}
