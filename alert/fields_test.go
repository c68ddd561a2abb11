package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestValueOf(t *testing.T) {
	tests := []struct {
		in   any
		kind Kind
		text string // String()
	}{
		{nil, KindNull, "<NA>"},
		{"x<y>", KindString, "x<y>"},
		{true, KindBool, "true"},
		{false, KindBool, "false"},
		{json.Number("18446744073709551615"), KindNumber, "18446744073709551615"},
		{-3, KindNumber, "-3"},
		{uint64(math.MaxUint64), KindNumber, "18446744073709551615"},
		{1.5, KindNumber, "1.5"},
		{float32(0.25), KindNumber, "0.25"},
		{1e21, KindNumber, "1e+21"},
		{1e-7, KindNumber, "1e-7"},
		{[]any{"a", json.Number("1")}, KindJSON, `["a",1]`},
		{map[string]any{"z": 1, "a": "<"}, KindJSON, `{"a":"\u003c","z":1}`},
		{json.RawMessage(` "s" `), KindString, "s"},
		{json.RawMessage(`null`), KindNull, "<NA>"},
		{json.RawMessage(`{"b":2,"a":1}`), KindJSON, `{"a":1,"b":2}`},
		{StringValue("v"), KindString, "v"},
	}
	for _, tt := range tests {
		v, err := ValueOf(tt.in)
		if err != nil {
			t.Errorf("ValueOf(%#v): %v", tt.in, err)
			continue
		}
		if v.Kind() != tt.kind || v.String() != tt.text {
			t.Errorf("ValueOf(%#v) = kind %d %q, want kind %d %q", tt.in, v.Kind(), v.String(), tt.kind, tt.text)
		}
		// The text form is what FieldString gave for the value.
		if _, raw := tt.in.(json.RawMessage); raw {
			continue
		}
		if _, float := tt.in.(float64); float {
			continue // FieldString printed Go floats with fmt; Values hold JSON text
		}
		if got := FieldString(tt.in); tt.kind != KindJSON && got != tt.text {
			t.Errorf("FieldString(%#v) = %q, ValueOf gives %q", tt.in, got, tt.text)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), json.Number("1."), json.Number("01"), json.RawMessage(`{`), json.RawMessage(`1 2`), make(chan int)} {
		if v, err := ValueOf(bad); err == nil {
			t.Errorf("ValueOf(%#v) = %v, want an error", bad, v)
		}
	}
}

// FloatValue writes what encoding/json writes for the same float64.
func TestFloatValueMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 2:
			f = float64(r.Int64N(1<<53)) - 1<<52
		default:
			f = float64(r.IntN(2000)-1000) / 8
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, _ := json.Marshal(f)
		v, err := FloatValue(f)
		if err != nil || v.String() != string(want) {
			t.Fatalf("FloatValue(%v) = %q, %v; encoding/json writes %s", f, v.String(), err, want)
		}
	}
}

func TestNumberValueGrammar(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-12", "1.5", "0.0e0", "1E+9", "1e-9", "123456789012345678901234567890"} {
		if _, err := NumberValue(s); err != nil || !json.Valid([]byte(s)) {
			t.Errorf("NumberValue(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x1", "1 ", "NaN", "Infinity", "--1"} {
		if _, err := NumberValue(s); err == nil {
			t.Errorf("NumberValue(%q) accepted", s)
		}
	}
}

func FuzzNumberValue(f *testing.F) {
	for _, s := range []string{"0", "-1.5e+3", "01", "1.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := NumberValue(s)
		var n json.Number
		valid := json.Unmarshal([]byte(s), &n) == nil && string(n) == s
		if (err == nil) != valid {
			t.Fatalf("NumberValue(%q) err=%v, encoding/json valid=%v", s, err, valid)
		}
	})
}

func TestFieldsGetSet(t *testing.T) {
	var f Fields
	if _, ok := f.Get("a"); ok {
		t.Fatal("nil Fields has a key")
	}
	for _, k := range []string{"m", "c", "x", "a", "c"} {
		f = f.Set(k, StringValue(k+"!"))
	}
	if got := fieldKeys(f); !reflect.DeepEqual(got, []string{"a", "c", "m", "x"}) || !f.IsSorted() {
		t.Fatalf("keys %v", got)
	}
	if v, ok := f.Get("c"); !ok || v != StringValue("c!") {
		t.Errorf("Get(c) = %v, %v", v, ok)
	}
	// Hand-built, unsorted, with a duplicate: Get and Sorted let the later one win.
	h := Fields{{"b", IntValue(1)}, {"a", IntValue(2)}, {"b", IntValue(3)}}
	if v, _ := h.Get("b"); v != IntValue(3) {
		t.Errorf("Get(b) = %v", v)
	}
	s := h.Sorted()
	if !reflect.DeepEqual(s, Fields{{"a", IntValue(2)}, {"b", IntValue(3)}}) {
		t.Errorf("Sorted = %v", s)
	}
	if h[0].Key != "b" {
		t.Error("Sorted changed its input")
	}
	if sorted := (Fields{{"a", NullValue()}}); &sorted.Sorted()[0] != &sorted[0] {
		t.Error("Sorted copied fields already in order")
	}
	if !h.Equal(s) || h.Equal(nil) || !Fields(nil).Equal(nil) || Fields(nil).Equal(Fields{}) {
		t.Error("Equal")
	}
}

// Fields encode to the same JSON as the map they replace, and decode back
// to equal Fields.
func TestFieldsJSONMatchesMap(t *testing.T) {
	m := map[string]any{
		"proc.name": "cat <&>", "user.uid": json.Number("0"), "fd.ino": json.Number("18446744073709551615"),
		"proc.tty": nil, "evt.failed": false, "u": "\u2028\xff", "nested": map[string]any{"b": []any{json.Number("1"), "x"}, "a": true},
		"": "empty key", "a\"b": "q",
	}
	f := MustFields(m)
	got, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(m)
	if string(got) != string(want) {
		t.Fatalf("Fields JSON\n got %s\nwant %s", got, want)
	}
	var back Fields
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	// The invalid byte came back as U+FFFD, which encodes unescaped.
	var mback map[string]any
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.UseNumber()
	if err := dec.Decode(&mback); err != nil {
		t.Fatal(err)
	}
	wantBack, _ := json.Marshal(mback)
	if d, _ := json.Marshal(back); string(d) != string(wantBack) {
		t.Errorf("round trip\n got %s\nwant %s", d, wantBack)
	}
	if !reflect.DeepEqual(back.Map()["user.uid"], json.Number("0")) || back.Map()["proc.tty"] != nil {
		t.Errorf("Map() = %v", back.Map())
	}
	for _, tt := range []struct {
		f    Fields
		want string
	}{{nil, "null"}, {Fields{}, "{}"}} {
		if b, _ := json.Marshal(tt.f); string(b) != tt.want {
			t.Errorf("%#v encodes as %s", tt.f, b)
		}
		var r Fields
		if err := json.Unmarshal([]byte(tt.want), &r); err != nil || (r == nil) != (tt.f == nil) {
			t.Errorf("decoding %s: %#v %v", tt.want, r, err)
		}
	}
}

// The decoders return fields sorted by key with each key once, whatever
// order the document had; both decoders agree.
func TestDecodeSortsFields(t *testing.T) {
	doc := `{"rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z","output_fields":{"z":1,"a":"x","m":null,"a":"y"}}`
	want := Fields{{"a", StringValue("y")}, {"m", NullValue()}, {"z", IntValue(1)}}
	fast := decodeFast([]byte(doc))
	slow, err := decodeSlow([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if fast == nil || !reflect.DeepEqual(fast.OutputFields, want) || !reflect.DeepEqual(slow.OutputFields, want) {
		t.Errorf("fast %v slow %v, want %v", fast, slow.OutputFields, want)
	}
}

func fieldKeys(f Fields) []string {
	out := make([]string, len(f))
	for i, e := range f {
		out[i] = e.Key
	}
	return out
}

// Many unsorted keys take the sort of positions; duplicates still resolve
// to the last one, and the decoder sorts them the same way.
func TestSortManyFields(t *testing.T) {
	const n = 5000
	var doc strings.Builder
	doc.WriteString(`{"rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z","output_fields":{`)
	var f Fields
	for i := n; i > 0; i-- {
		k := fmt.Sprintf("k%05d", i%(n/2)) // each key twice, descending
		if i < n {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, "%q:%d", k, i)
		f = append(f, Field{k, IntValue(int64(i))})
	}
	doc.WriteString("}}")
	s := f.Sorted()
	if len(s) != n/2 || !s.IsSorted() {
		t.Fatalf("%d fields, sorted %v", len(s), s.IsSorted())
	}
	for _, e := range s {
		if v, _ := f.Get(e.Key); v != e.Value {
			t.Fatalf("%s = %v, Get says %v", e.Key, e.Value, v)
		}
	}
	a, err := Decode([]byte(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.OutputFields, s) {
		t.Error("decoded fields differ from Sorted")
	}
}

// BenchmarkDecodeUnsortedFields: an alert whose 20,000 output_fields keys
// arrive in reverse order (an untrusted sender's worst case for sorting).
func BenchmarkDecodeUnsortedFields(b *testing.B) {
	var doc strings.Builder
	doc.WriteString(`{"rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z","output_fields":{`)
	for i := 20000; i > 0; i-- {
		if i < 20000 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `"k%05d":%d`, i, i)
	}
	doc.WriteString("}}")
	data := []byte(doc.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
