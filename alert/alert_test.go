package alert

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const falcoAlert = `{"uuid":"4f6c3a0e-1b7a-4c55-9a53-2c4a1c3b8f10","time":"2026-11-22T10:00:00.123456789Z","priority":"Warning","rule":"Read sensitive file untrusted",
 "output":"10:00:00.123456789: Warning Sensitive file opened for reading file=/etc/shadow",
 "output_fields":{"evt.type":"openat","fd.name":"/etc/shadow","proc.name":"cat","user.uid":0,"fd.ino":18446744073709551615,"proc.tty":null,"evt.failed":false},
 "source":"syscall","tags":["filesystem","mitre_credential_access"],"hostname":"node-1"}`

func TestDecodeFalcoAlert(t *testing.T) {
	a, err := Decode([]byte(falcoAlert))
	if err != nil {
		t.Fatal(err)
	}
	want := &Alert{
		UUID:     "4f6c3a0e-1b7a-4c55-9a53-2c4a1c3b8f10",
		Time:     time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		Priority: PriorityWarning,
		Rule:     "Read sensitive file untrusted",
		Output:   "10:00:00.123456789: Warning Sensitive file opened for reading file=/etc/shadow",
		OutputFields: MustFields(map[string]any{
			"evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat",
			"user.uid": json.Number("0"), "fd.ino": json.Number("18446744073709551615"),
			"proc.tty": nil, "evt.failed": false,
		}),
		Source:   "syscall",
		Tags:     []string{"filesystem", "mitre_credential_access"},
		Hostname: "node-1",
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got  %#v\nwant %#v", a, want)
	}
	// A round trip keeps every value and its JSON type, large integers included.
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Decode(b)
	if err != nil {
		t.Fatalf("re-decode %s: %v", b, err)
	}
	if !reflect.DeepEqual(b2, want) {
		t.Fatalf("round trip changed the alert:\n%#v", b2)
	}
	if !strings.Contains(string(b), `"fd.ino":18446744073709551615`) {
		t.Errorf("large integer not kept exactly: %s", b)
	}
}

func TestDecodeErrors(t *testing.T) {
	const (
		rule = `"rule":"r"`
		prio = `"priority":"Warning"`
		tm   = `"time":"2026-11-22T10:00:00Z"`
	)
	obj := func(parts ...string) string { return "{" + strings.Join(parts, ",") + "}" }
	tests := []struct {
		name  string
		in    string
		field string // "" when the error is not a *FieldError
		msg   string // substring of the error
	}{
		{"empty", "", "", "empty body"},
		{"whitespace", " \n\t", "", "empty body"},
		{"malformed", `{"rule":`, "", "malformed JSON"},
		{"trailing garbage", obj(rule, prio, tm) + "x", "", "malformed JSON"},
		{"array", `[1,2]`, "", "expected a JSON object"},
		{"string", `"alert"`, "", "expected a JSON object"},
		{"invalid utf8", "{\"rule\":\"\xff\xfe\"," + prio + "," + tm + "}", "", "UTF-8"},
		{"missing rule", obj(prio, tm), "rule", "is required"},
		{"null rule", obj(`"rule":null`, prio, tm), "rule", "is required"},
		{"empty rule", obj(`"rule":""`, prio, tm), "rule", "must not be empty"},
		{"rule not string", obj(`"rule":42`, prio, tm), "rule", "must be a string"},
		{"missing priority", obj(rule, tm), "priority", "is required"},
		{"unknown priority", obj(rule, `"priority":"Severe"`, tm), "priority", "unknown priority"},
		{"priority number", obj(rule, `"priority":4`, tm), "priority", "must be a string"},
		{"missing time", obj(rule, prio), "time", "is required"},
		{"bad time", obj(rule, prio, `"time":"yesterday"`), "time", "RFC 3339"},
		{"time number", obj(rule, prio, `"time":1700000000`), "time", "must be a string"},
		{"uuid number", obj(rule, prio, tm, `"uuid":7`), "uuid", "must be a string"},
		{"output object", obj(rule, prio, tm, `"output":{}`), "output", "must be a string"},
		{"source bool", obj(rule, prio, tm, `"source":true`), "source", "must be a string"},
		{"hostname array", obj(rule, prio, tm, `"hostname":["a"]`), "hostname", "must be a string"},
		{"tags string", obj(rule, prio, tm, `"tags":"a,b"`), "tags", "array of strings"},
		{"tags numbers", obj(rule, prio, tm, `"tags":["a",1]`), "tags", "array of strings"},
		{"output_fields array", obj(rule, prio, tm, `"output_fields":[1]`), "output_fields", "JSON object"},
		{"output_fields string", obj(rule, prio, tm, `"output_fields":"x"`), "output_fields", "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q) = %+v, want an error", tt.in, a)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			var fe *FieldError
			switch {
			case tt.field == "" && errors.As(err, &fe):
				t.Errorf("got field error %v, want a document error", err)
			case tt.field != "" && !errors.As(err, &fe):
				t.Errorf("got %v, want a *FieldError for %q", err, tt.field)
			case tt.field != "" && fe.Field != tt.field:
				t.Errorf("error names field %q, want %q", fe.Field, tt.field)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	// What Falco and falcosidekick accept, we accept: unknown keys, null
	// optional fields, any priority spelling, time zone offsets.
	in := `{"rule":"r","priority":" info ","time":"2026-11-22T11:00:00+01:00","output":null,"tags":null,"output_fields":null,"extra":{"k":[1]}}`
	a, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if a.Priority != PriorityInformational {
		t.Errorf("priority = %v", a.Priority)
	}
	if !a.Time.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("time = %v", a.Time)
	}
	if a.UUID != "" || a.Tags != nil || a.OutputFields != nil {
		t.Errorf("unexpected values: %+v", a)
	}
}

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in   string
		want Priority
	}{
		{"Emergency", PriorityEmergency}, {"EMERG", PriorityEmergency},
		{"alert", PriorityAlert},
		{"Critical", PriorityCritical}, {"crit", PriorityCritical},
		{"Error", PriorityError}, {"err", PriorityError},
		{"WARNING", PriorityWarning}, {"warn", PriorityWarning},
		{"notice", PriorityNotice},
		{"Informational", PriorityInformational}, {"Info", PriorityInformational},
		{"debug", PriorityDebug},
	}
	for _, tt := range tests {
		got, err := ParsePriority(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "severe", "warnings", "0"} {
		if p, err := ParsePriority(bad); err == nil {
			t.Errorf("ParsePriority(%q) = %v, want an error", bad, p)
		}
	}
}

func TestPriorityOrderAndText(t *testing.T) {
	ps := Priorities()
	if len(ps) != 8 {
		t.Fatalf("Priorities() has %d levels", len(ps))
	}
	for i := 1; i < len(ps); i++ {
		if ps[i-1] <= ps[i] {
			t.Errorf("%v should be more severe than %v", ps[i-1], ps[i])
		}
	}
	for _, p := range ps {
		if !p.Valid() {
			t.Errorf("%v not valid", p)
		}
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var q Priority
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("text round trip of %v gave %v, %v", p, q, err)
		}
	}
	if PriorityUnset.Valid() || Priority(42).Valid() {
		t.Error("out-of-range priorities must not be valid")
	}
	if _, err := PriorityUnset.MarshalText(); err == nil {
		t.Error("marshalling an unset priority must fail")
	}
	if s := Priority(42).String(); s != "Priority(42)" {
		t.Errorf("String() = %q", s)
	}
	if s := Priority(-1).String(); s != "Priority(-1)" {
		t.Errorf("String() = %q", s)
	}
}

func TestEnsureUUID(t *testing.T) {
	a := &Alert{}
	a.EnsureUUID()
	if len(a.UUID) != 36 {
		t.Fatalf("uuid = %q", a.UUID)
	}
	first := a.UUID
	a.EnsureUUID()
	if a.UUID != first {
		t.Error("EnsureUUID replaced an existing uuid")
	}
	b := &Alert{}
	b.EnsureUUID()
	if b.UUID == first {
		t.Error("two alerts got the same uuid")
	}
}

func TestClone(t *testing.T) {
	a, err := Decode([]byte(falcoAlert))
	if err != nil {
		t.Fatal(err)
	}
	c := a.Clone()
	if !reflect.DeepEqual(a, c) {
		t.Fatal("clone differs")
	}
	c.Tags[0] = "changed"
	c.OutputFields = c.OutputFields.Set("new", StringValue("x"))
	c.OutputFields = c.OutputFields.Set("fd.name", StringValue("changed"))
	if _, ok := a.OutputFields.Get("new"); ok || a.Tags[0] != "filesystem" {
		t.Error("changing the clone changed the original")
	}
	if v, _ := a.OutputFields.Get("fd.name"); v != StringValue("/etc/shadow") {
		t.Error("changing the clone changed the original")
	}
	empty := (&Alert{}).Clone()
	if empty.Tags != nil || empty.OutputFields != nil {
		t.Error("clone of nil slices/maps must stay nil")
	}
}

func TestFieldString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "<NA>"},
		{"x", "x"},
		{json.Number("18446744073709551615"), "18446744073709551615"},
		{true, "true"},
		{false, "false"},
		{1.5, "1.5"},
		{int64(-3), "-3"},
		{uint32(7), "7"},
		{[]any{"a", json.Number("1")}, `["a",1]`},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
		{StringValue("s"), "s"},
		{NullValue(), "<NA>"},
	}
	for _, tt := range tests {
		if got := FieldString(tt.in); got != tt.want {
			t.Errorf("FieldString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the ingest parser: it must never panic,
// every error must be a document or field error, and every alert it accepts
// must marshal and decode back to the same alert.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		falcoAlert,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z"}`,
		`{"rule":"r","priority":"info","time":"2026-01-01T00:00:00.5+05:30","tags":[],"output_fields":{}}`,
		`{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","output_fields":{"a":[1,{"b":null}],"n":-1.5e300}}`,
		`[]`, `null`, `{}`, `{"rule":1}`, "{\"rule\":\"\xff\"}", `{"time":"2026-13-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			if a != nil {
				t.Fatal("alert returned with an error")
			}
			return
		}
		if a.Rule == "" || !a.Priority.Valid() || a.Time.IsZero() && !strings.Contains(string(data), "0001-01-01") {
			t.Fatalf("accepted an alert without rule/priority/time: %+v", a)
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("accepted alert does not marshal: %v (%+v)", err, a)
		}
		a2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if len(a.Tags) == 0 {
			a.Tags = nil // omitempty drops an empty array
		}
		if !a.Time.Equal(a2.Time) {
			t.Fatalf("time changed: %v -> %v", a.Time, a2.Time)
		}
		a2.Time = a.Time
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("round trip changed the alert:\n%#v\n%#v", a, a2)
		}
	})
}
