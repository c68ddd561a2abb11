// Package alert holds the alert type shared by the agent, the router and the
// outputs: Falco's JSON alert shape. It imports nothing else of the project.
package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Alert is one Falco alert in Falco's JSON shape (http_output / json_output).
type Alert struct {
	UUID     string    `json:"uuid,omitempty"`
	Time     time.Time `json:"time"`
	Priority Priority  `json:"priority"`
	Rule     string    `json:"rule"`
	Output   string    `json:"output"`
	// OutputFields keeps each value's JSON type, numbers as their text so
	// that large integers (inodes, pids, ports) survive a round trip exactly.
	OutputFields Fields   `json:"output_fields"`
	Source       string   `json:"source,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Hostname     string   `json:"hostname,omitempty"`
}

// FieldError is a validation problem with one named field of an alert.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Msg) }

// ErrEmptyBody is returned by Decode for an empty or whitespace-only document.
var ErrEmptyBody = errors.New("empty body: expected one alert as a JSON object")

// wire mirrors Alert with loose types so Decode can name the bad field itself
// instead of surfacing encoding/json's generic type errors. output_fields is
// decoded in the same pass (a type error there names the field too), which
// keeps the ingest hot path to one scan of the document.
type wire struct {
	UUID         json.RawMessage `json:"uuid"`
	Time         json.RawMessage `json:"time"`
	Priority     json.RawMessage `json:"priority"`
	Rule         json.RawMessage `json:"rule"`
	Output       json.RawMessage `json:"output"`
	OutputFields map[string]any  `json:"output_fields"`
	Source       json.RawMessage `json:"source"`
	Tags         json.RawMessage `json:"tags"`
	Hostname     json.RawMessage `json:"hostname"`
}

// Decode parses and validates one alert in Falco's JSON shape. Errors name the
// offending field (as *FieldError) or describe the malformed document. Unknown
// top-level keys are ignored, as falcosidekick ignores them.
func Decode(data []byte) (*Alert, error) {
	if a := decodeFast(data); a != nil {
		return a, nil
	}
	return decodeSlow(data)
}

// decodeSlow is the reference decoder: encoding/json plus the checks, and the
// source of every error message.
func decodeSlow(data []byte) (*Alert, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmptyBody
	}
	if !utf8.Valid(data) {
		return nil, errors.New("body is not valid UTF-8")
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	badOutputFields := false
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return nil, fmt.Errorf("expected a JSON object, got %s", te.Value)
		case errors.As(err, &te) && strings.HasPrefix(te.Field, "output_fields"):
			// Reported below, after the required fields, as before.
			badOutputFields = true
		default:
			return nil, fmt.Errorf("malformed JSON: %w", err)
		}
	}
	if rest := bytes.Trim(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("malformed JSON: invalid character %q after top-level value", rest[0])
	}
	a := &Alert{}
	var err error
	if a.UUID, err = optString("uuid", w.UUID); err != nil {
		return nil, err
	}
	if a.Rule, err = reqString("rule", w.Rule); err != nil {
		return nil, err
	}
	if a.Rule == "" {
		return nil, &FieldError{"rule", "must not be empty"}
	}
	prio, err := reqString("priority", w.Priority)
	if err != nil {
		return nil, err
	}
	if a.Priority, err = ParsePriority(prio); err != nil {
		return nil, &FieldError{"priority", err.Error()}
	}
	ts, err := reqString("time", w.Time)
	if err != nil {
		return nil, err
	}
	if a.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, &FieldError{"time", fmt.Sprintf("not an RFC 3339 timestamp: %q", ts)}
	}
	if a.Output, err = optString("output", w.Output); err != nil {
		return nil, err
	}
	if a.Source, err = optString("source", w.Source); err != nil {
		return nil, err
	}
	if a.Hostname, err = optString("hostname", w.Hostname); err != nil {
		return nil, err
	}
	if !isNull(w.Tags) {
		if err := json.Unmarshal(w.Tags, &a.Tags); err != nil {
			return nil, &FieldError{"tags", "must be an array of strings"}
		}
	}
	if badOutputFields {
		return nil, &FieldError{"output_fields", "must be a JSON object"}
	}
	if a.OutputFields, err = FieldsFromMap(w.OutputFields); err != nil {
		return nil, &FieldError{"output_fields", err.Error()}
	}
	return a, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func optString(field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	// Fast path: raw comes from a document json.Unmarshal already checked,
	// so a quoted string without escapes is its own value. This is most
	// fields of most alerts and saves a full decode per field on the ingest
	// hot path.
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 {
		return string(raw[1 : n-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &FieldError{field, "must be a string"}
	}
	return s, nil
}

func reqString(field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", &FieldError{field, "is required"}
	}
	return optString(field, raw)
}

// EnsureUUID sets a random UUID when the alert has none, so that whoever first
// creates an alert gives it the identity every hop after keeps.
func (a *Alert) EnsureUUID() {
	if a.UUID == "" {
		a.UUID = uuid.NewString()
	}
}

// Clone returns a copy that shares nothing mutable with a.
func (a *Alert) Clone() *Alert {
	c := *a
	if a.Tags != nil {
		c.Tags = append([]string(nil), a.Tags...)
	}
	c.OutputFields = a.OutputFields.Clone()
	return &c
}

// FieldString renders an output_fields value as text, the way Falco prints it:
// strings as they are, numbers and booleans in JSON form, null as "<NA>".
func FieldString(v any) string {
	switch t := v.(type) {
	case nil:
		return "<NA>"
	case Value:
		return t.String()
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	case float64:
		return fmt.Sprint(t)
	case int, int64, uint64, int32, uint32:
		return fmt.Sprint(t)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}
