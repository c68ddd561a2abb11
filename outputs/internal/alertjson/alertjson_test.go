package alertjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs/outputtest"
)

func TestSameAsEncodingJSON(t *testing.T) {
	var e Encoder
	cases := []*alert.Alert{outputtest.Alert(0), outputtest.Alert(7)}
	odd := outputtest.Alert(3)
	odd.UUID, odd.Source, odd.Hostname, odd.Tags = "", "", "", []string{}
	odd.Output = "a<b>&c \"q\" \\ \n\t\r\b\f \x01 \u2028 \u2029 é 日本 \xff end"
	odd.OutputFields = alert.MustFields(map[string]any{"n": json.Number("12345678901234567890"), "f": 1.5, "i": 3, "neg": int64(-4),
		"u": uint64(5), "nil": nil, "b": false, "arr": []any{"x", json.Number("1")}, "esc<>": "x",
		"obj": map[string]any{"z": json.Number("1e3"), "a": "<b>\u2028", "n": []any{}}, "e": json.Number("-0.5E-7")})
	cases = append(cases, odd)
	unsorted := outputtest.Alert(2) // hand-built Fields: out of order, "b" twice
	unsorted.OutputFields = alert.Fields{{Key: "b", Value: alert.IntValue(1)}, {Key: "a", Value: alert.StringValue("x")}, {Key: "b", Value: alert.NullValue()}}
	cases = append(cases, unsorted)
	empty := outputtest.Alert(4)
	empty.OutputFields = alert.Fields{}
	cases = append(cases, empty)
	nofields := outputtest.Alert(1)
	nofields.OutputFields = nil
	cases = append(cases, nofields)
	for i, a := range cases {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Append(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		checkFieldsAsMap(t, a.OutputFields)
	}
}

// checkFieldsAsMap holds Fields.AppendJSON to the bytes encoding/json wrote when
// output_fields was a map[string]any.
func checkFieldsAsMap(t *testing.T, f alert.Fields) {
	t.Helper()
	want, err := json.Marshal(f.Map())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("output_fields:\n got %s\nwant %s", got, want)
	}
}

func TestOptions(t *testing.T) {
	a := outputtest.Alert(0)
	a.OutputFields = alert.MustFields(map[string]any{"container.image": "nginx", "container.image.repository": "library/nginx"})
	e := Encoder{Options: Options{FlattenFields: true, Timestamp: true}}
	got, err := e.Append(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	if m["@timestamp"] != a.Time.Format(time.RFC3339Nano) {
		t.Errorf("@timestamp = %v", m["@timestamp"])
	}
	of := m["output_fields"].(map[string]any)
	if of["container_image"] != "nginx" || of["container_image_repository"] != "library/nginx" {
		t.Errorf("flattened fields = %v", of)
	}
	if !strings.HasPrefix(string(got), `{"@timestamp":`) {
		t.Errorf("@timestamp not first: %s", got)
	}
}

func TestInvalidPriority(t *testing.T) {
	a := outputtest.Alert(0)
	a.Priority = alert.PriorityUnset
	var e Encoder
	if _, err := e.Append(nil, a); err == nil {
		t.Error("no error for an unset priority")
	}
}

// FuzzAppend holds the encoder to encoding/json on arbitrary text.
func FuzzAppend(f *testing.F) {
	f.Add("rule", "out <x> & \"y\"", "k.e.y", "v\u2028", "host")
	f.Add("\xff\xfe", "\x00\x1f", "", "\\", "日本")
	f.Fuzz(func(t *testing.T, rule, output, key, val, host string) {
		a := &alert.Alert{UUID: "u", Time: time.Unix(1700000000, 5).UTC(), Priority: alert.PriorityError, Rule: rule,
			Output: output, OutputFields: alert.MustFields(map[string]any{key: val, "n": json.Number("7")}), Tags: []string{val}, Hostname: host}
		want, err := json.Marshal(a)
		if err != nil {
			t.Skip()
		}
		var e Encoder
		got, err := e.Append(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
		checkFieldsAsMap(t, a.OutputFields)
	})
}

func BenchmarkAppend(b *testing.B) {
	a := outputtest.Alert(1)
	var e Encoder
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.Append(buf[:0], a)
	}
}
