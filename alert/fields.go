package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Kind is the JSON type of an output_fields value.
type Kind uint8

// The kinds of values Falco puts in output_fields. Arrays and objects are
// rare (a plugin's fields); they keep their JSON text.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindBool
	KindJSON // an array or an object
)

// Value is one output_fields value with its JSON type. It is a tagged
// string, so decoding an alert stores each value as a slice of the
// document's one string instead of boxing it in an interface: the router
// decodes and re-encodes every alert it takes, and a map of boxed values
// cost several percent of its CPU.
type Value struct {
	text string // String: the string; Number: its JSON text; Bool: "true"/"false"; JSON: compact JSON
	kind Kind
}

// StringValue is a JSON string.
func StringValue(s string) Value { return Value{text: s, kind: KindString} }

// BoolValue is a JSON boolean.
func BoolValue(b bool) Value {
	if b {
		return Value{text: "true", kind: KindBool}
	}
	return Value{text: "false", kind: KindBool}
}

// NullValue is JSON null: Falco's value for a field the event did not have.
func NullValue() Value { return Value{} }

// IntValue is a JSON number.
func IntValue(i int64) Value { return Value{text: strconv.FormatInt(i, 10), kind: KindNumber} }

// UintValue is a JSON number.
func UintValue(u uint64) Value { return Value{text: strconv.FormatUint(u, 10), kind: KindNumber} }

// NumberValue is a JSON number given as its text, which must be a valid
// JSON number (json.Number's rules): large integers stay exact.
func NumberValue(text string) (Value, error) {
	if !isJSONNumber(text) {
		return Value{}, fmt.Errorf("not a JSON number: %q", text)
	}
	return Value{text: text, kind: KindNumber}, nil
}

// FloatValue is a JSON number, written as encoding/json writes a float64.
// NaN and infinities have no JSON form.
func FloatValue(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("no JSON number for %v", f)
	}
	return Value{text: string(appendFloat(nil, f)), kind: KindNumber}, nil
}

// appendFloat formats f the way encoding/json does for a float64.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// ValueOf converts a Go value as encoding/json (with UseNumber) would decode
// or encode it: nil, string, bool, json.Number, Go integers and floats, a
// json.RawMessage, and anything else encoding/json can marshal (kept as
// JSON text, or as the scalar it marshals to).
func ValueOf(v any) (Value, error) {
	switch t := v.(type) {
	case nil:
		return NullValue(), nil
	case Value:
		return t, nil
	case string:
		return StringValue(t), nil
	case bool:
		return BoolValue(t), nil
	case json.Number:
		return NumberValue(string(t))
	case float64:
		return FloatValue(t)
	case float32:
		return FloatValue(float64(t))
	case json.RawMessage:
		return valueFromJSON(t)
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return IntValue(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return UintValue(rv.Uint()), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Value{}, err
	}
	return valueFromJSON(b)
}

// valueFromJSON classifies one JSON value; arrays and objects are stored in
// encoding/json's canonical form (sorted keys, numbers as written).
func valueFromJSON(b []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return Value{}, fmt.Errorf("not a JSON value: %w", err)
	}
	if dec.More() {
		return Value{}, errors.New("not a JSON value: more than one")
	}
	switch t := x.(type) {
	case nil:
		return NullValue(), nil
	case string:
		return StringValue(t), nil
	case bool:
		return BoolValue(t), nil
	case json.Number:
		return Value{text: string(t), kind: KindNumber}, nil
	}
	canon, err := json.Marshal(x)
	if err != nil {
		return Value{}, err
	}
	return Value{text: string(canon), kind: KindJSON}, nil
}

// Kind reports the value's JSON type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether the value is JSON null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// String renders the value as text, the way Falco prints it: strings as
// they are, numbers, booleans, arrays and objects in JSON form, null as
// "<NA>".
func (v Value) String() string {
	if v.kind == KindNull {
		return "<NA>"
	}
	return v.text
}

// JSONText is the value's JSON form for every kind but KindString, whose
// text needs quoting and escaping (see String); "null" for null.
func (v Value) JSONText() string {
	if v.kind == KindNull {
		return "null"
	}
	return v.text
}

// AppendJSON appends the value's JSON form, as encoding/json writes it.
func (v Value) AppendJSON(dst []byte) []byte {
	if v.kind == KindString {
		return AppendJSONString(dst, v.text)
	}
	return append(dst, v.JSONText()...)
}

// Interface returns the value as encoding/json with UseNumber decodes it:
// nil, string, json.Number, bool, or map[string]any / []any.
func (v Value) Interface() any {
	switch v.kind {
	case KindString:
		return v.text
	case KindNumber:
		return json.Number(v.text)
	case KindBool:
		return v.text == "true"
	case KindJSON:
		dec := json.NewDecoder(strings.NewReader(v.text))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return v.text // unreachable: the text was checked when it was made
		}
		return x
	}
	return nil
}

// Field is one output_fields entry.
type Field struct {
	Key   string
	Value Value
}

// Fields is an alert's output_fields, sorted by key with each key once, as
// Falco writes them and as the decoders return them. Nil is JSON null, an
// empty non-nil Fields is {}. Hand-built Fields need not be sorted: Get
// finds the last entry for a key, and Sorted puts them in order for
// whoever encodes them.
type Fields []Field

// Get returns the value of key; a later duplicate wins, as in JSON.
func (f Fields) Get(key string) (Value, bool) {
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Key == key {
			return f[i].Value, true
		}
	}
	return Value{}, false
}

// Set returns f with key set to v: replaced in place when key is there (so
// Clone f first when it is shared), inserted before the first greater key
// otherwise (so sorted Fields stay sorted).
func (f Fields) Set(key string, v Value) Fields {
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Key == key {
			f[i].Value = v
			return f
		}
	}
	i := len(f)
	for i > 0 && f[i-1].Key > key {
		i--
	}
	if f == nil {
		f = make(Fields, 0, 1)
	}
	return slices.Insert(f, i, Field{Key: key, Value: v})
}

// IsSorted reports whether the keys are strictly ascending.
func (f Fields) IsSorted() bool {
	for i := 1; i < len(f); i++ {
		if f[i-1].Key >= f[i].Key {
			return false
		}
	}
	return true
}

// Sorted returns f itself when its keys are strictly ascending, else a
// sorted copy holding each key once (a later duplicate wins).
func (f Fields) Sorted() Fields {
	if f.IsSorted() {
		return f
	}
	return sortInPlace(slices.Clone(f))
}

// sortInPlace sorts f by key and keeps each key's last entry. The sort is
// stable, so duplicates keep their order: insertion sort for the few dozen
// fields of a normal alert, pdqsort of positions beyond, so that an alert
// with thousands of unsorted keys costs n log n, not n².
func sortInPlace(f Fields) Fields {
	if len(f) <= 32 {
		for i := 1; i < len(f); i++ {
			e := f[i]
			j := i
			for j > 0 && f[j-1].Key > e.Key {
				f[j] = f[j-1]
				j--
			}
			f[j] = e
		}
	} else {
		// Sorting positions moves 4 bytes per swap instead of a 40-byte
		// Field, and the position breaks ties, which keeps it stable.
		pos := make([]int32, len(f))
		for i := range pos {
			pos[i] = int32(i)
		}
		slices.SortFunc(pos, func(a, b int32) int {
			if c := strings.Compare(f[a].Key, f[b].Key); c != 0 {
				return c
			}
			return int(a - b)
		})
		sorted := make(Fields, len(f))
		for i, p := range pos {
			sorted[i] = f[p]
		}
		copy(f, sorted)
	}
	w := 0
	for i := range f {
		if w > 0 && f[w-1].Key == f[i].Key {
			f[w-1] = f[i]
			continue
		}
		f[w] = f[i]
		w++
	}
	clear(f[w:])
	return f[:w]
}

// Clone returns a copy that shares no entries with f (nil stays nil).
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	return append(make(Fields, 0, len(f)), f...)
}

// Map returns the fields as a map of the values' Interface forms, which is
// what falcosidekick's templates index (nil stays nil).
func (f Fields) Map() map[string]any {
	if f == nil {
		return nil
	}
	m := make(map[string]any, len(f))
	for _, e := range f {
		m[e.Key] = e.Value.Interface()
	}
	return m
}

// FieldsFromMap converts a map of Go values (see ValueOf) to sorted Fields.
func FieldsFromMap(m map[string]any) (Fields, error) {
	if m == nil {
		return nil, nil
	}
	f := make(Fields, 0, len(m))
	for k, x := range m {
		v, err := ValueOf(x)
		if err != nil {
			return nil, fmt.Errorf("output_fields %q: %w", k, err)
		}
		f = append(f, Field{Key: k, Value: v})
	}
	slices.SortFunc(f, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	return f, nil
}

// MustFields is FieldsFromMap for literals in code and tests; it panics on
// a value with no JSON form.
func MustFields(m map[string]any) Fields {
	f, err := FieldsFromMap(m)
	if err != nil {
		panic(err)
	}
	return f
}

// MarshalJSON writes the fields as a JSON object with sorted keys, the
// bytes encoding/json writes for a map.
func (f Fields) MarshalJSON() ([]byte, error) {
	return f.AppendJSON(make([]byte, 0, 48*len(f)+2)), nil
}

// AppendJSON appends what MarshalJSON returns.
func (f Fields) AppendJSON(dst []byte) []byte { return f.AppendJSONKeys(dst, AppendJSONString) }

// AppendJSONKeys is AppendJSON with each key written by appendKey (which
// must write a JSON string), for encoders that rename keys.
func (f Fields) AppendJSONKeys(dst []byte, appendKey func(dst []byte, key string) []byte) []byte {
	if f == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i, e := range f.Sorted() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendKey(dst, e.Key), ':')
		dst = e.Value.AppendJSON(dst)
	}
	return append(dst, '}')
}

// UnmarshalJSON reads null or a JSON object.
func (f *Fields) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	out, err := FieldsFromMap(m)
	if err != nil {
		return err
	}
	*f = out
	return nil
}

// Equal reports whether two Fields hold the same keys and values, in any
// order (duplicates resolved as Get resolves them).
func (f Fields) Equal(g Fields) bool {
	if (f == nil) != (g == nil) {
		return false
	}
	return reflect.DeepEqual([]Field(f.Sorted()), []Field(g.Sorted()))
}

// isJSONNumber reports whether s is a JSON number (RFC 8259 grammar).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		if j := skipDigits(s, i+1); j > i+1 {
			i = j
		} else {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := skipDigits(s, i); j > i {
			i = j
		} else {
			return false
		}
	}
	return i == len(s)
}

func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
