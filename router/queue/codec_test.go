package queue

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
)

func mustEntry(t testing.TB, uuid string) []byte {
	t.Helper()
	enc, err := appendAlert(nil, mkAlert(uuid))
	if err != nil {
		t.Fatal(err)
	}
	return encodeEntry(time.Now(), time.Time{}, 0, appendMessage(nil, nil, enc))
}

func TestMessageRoundTrip(t *testing.T) {
	full := mkAlert("rt")
	for k, v := range map[string]any{
		"nil": nil, "yes": true, "no": false, "f": 1.5,
		"list": []any{"a", json.Number("1")}, "obj": map[string]any{"k": "v"},
	} {
		fv, err := alert.ValueOf(v)
		if err != nil {
			t.Fatal(err)
		}
		full.OutputFields = full.OutputFields.Set(k, fv)
	}
	full.Time = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 7200))
	tests := []struct {
		name string
		msg  outputs.Message
	}{
		{"full", outputs.Message{Alert: full, Overrides: map[string]string{"channel": "#sec", "": ""}}},
		{"minimal", outputs.Message{Alert: &alert.Alert{Rule: "r", Priority: alert.PriorityDebug, Time: time.Unix(0, 0).UTC()}}},
		{"empty slices", outputs.Message{Alert: &alert.Alert{Rule: "r", Tags: []string{}, OutputFields: alert.Fields{}, Time: time.Unix(1, 0).UTC()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := appendAlert(nil, tc.msg.Alert)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeMessage(appendMessage(nil, tc.msg.Overrides, enc))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tc.msg.Alert)
			have, _ := json.Marshal(got.Alert)
			if string(want) != string(have) {
				t.Errorf("alert JSON\n got %s\nwant %s", have, want)
			}
			if !got.Alert.Time.Equal(tc.msg.Alert.Time) {
				t.Errorf("time %v, want %v", got.Alert.Time, tc.msg.Alert.Time)
			}
			if !reflect.DeepEqual(got.Overrides, tc.msg.Overrides) {
				t.Errorf("overrides %v, want %v", got.Overrides, tc.msg.Overrides)
			}
		})
	}
}

// Entries written before output_fields were typed may hold float64 values;
// they read back as the number encoding/json wrote for them.
func TestDecodeLegacyFloat(t *testing.T) {
	a := mkAlert("legacy")
	a.OutputFields = nil
	enc, err := appendAlert(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	enc = append(enc[:len(enc)-1], 3) // two fields follow (count+1)
	enc = appendStr(enc, "big")
	enc = binary.BigEndian.AppendUint64(append(enc, fieldFloat), math.Float64bits(1e21))
	enc = appendStr(enc, "f")
	enc = binary.BigEndian.AppendUint64(append(enc, fieldFloat), math.Float64bits(1.5))
	got, err := decodeAlert(enc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got.OutputFields)
	if want, _ := json.Marshal(map[string]any{"big": 1e21, "f": 1.5}); string(b) != string(want) {
		t.Errorf("got %s, want %s", b, want)
	}
}

// FuzzDecode: records read back from disk must never panic the decoders,
// whatever a torn or corrupted file holds.
func FuzzDecode(f *testing.F) {
	enc, _ := appendAlert(nil, mkAlert("fz"))
	msg := appendMessage(nil, map[string]string{"a": "b"}, enc)
	f.Add(encodeEntry(time.Now(), time.Time{}, 3, msg))
	f.Add(encodeDead(deadMeta{reason: "r", msg: msg}))
	f.Add([]byte{entryVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeEntryMeta(b); err == nil {
			_, _ = decodeMessage(m.msg)
		}
		if d, err := decodeDead(b); err == nil {
			_, _ = decodeMessage(d.msg)
		}
		_, _ = decodeMessage(b)
		_, _ = decodeCounters(b)
	})
}
