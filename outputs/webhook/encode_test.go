package webhook

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
)

// The fast encoder must give exactly outputs.FalcoJSON's bytes and errors.
func TestAppendFalcoJSONMatchesFalcoJSON(t *testing.T) {
	ts := time.Date(2026, 11, 22, 15, 4, 5, 123456789, time.UTC)
	for name, a := range map[string]*alert.Alert{
		"full": {UUID: "u-1", Time: ts, Priority: alert.PriorityWarning, Rule: "r", Output: "o", Source: "syscall",
			Tags: []string{"a", "b"}, Hostname: "h",
			OutputFields: alert.MustFields(map[string]any{"proc.pid": json.Number("42"), "f": json.Number("-1.5e3"), "s": "x", "b": true, "n": nil,
				"arr": []any{json.Number("1"), "q"}, "obj": map[string]any{"z": 1, "a": "<b>"}, "i": 7, "fl": 2.5})},
		"minimal":      {Time: ts, Priority: alert.PriorityDebug, Rule: "r"},
		"empty fields": {Time: ts.In(time.FixedZone("", 5*3600+1800)), Priority: alert.PriorityEmergency, Rule: "r", OutputFields: alert.Fields{}, Tags: []string{}},
		"escapes": {Time: ts, Priority: alert.PriorityInformational, Rule: "a\"b\\c\n<&>\b\f\r\t\x01\x1f\x7f/", Output: "héllo \u2028 \u2029 \xff\xe2\x80 日本 \U0001F600 <NA>",
			OutputFields: alert.MustFields(map[string]any{"k\"ey": "v\tv", "é": "ü"})},
		"unusual numbers": {Time: ts, Priority: alert.PriorityError, Rule: "r", OutputFields: alert.MustFields(map[string]any{"z": json.Number("-0"), "e": json.Number("1E+2"),
			"d": json.Number("0.10"), "big": json.Number("18446744073709551616"), "tiny": 1e-7, "huge": 1e21, "f32": float32(0.1)})},
		"nested": {Time: ts, Priority: alert.PriorityNotice, Rule: "r", OutputFields: alert.MustFields(map[string]any{
			"obj": map[string]any{"b": []any{"<&>", "\u2028", nil, true}, "a": map[string]any{}}, "arr": []any{}})},
		// Hand-built: unsorted, a key twice (the later wins), as Fields.Sorted gives them.
		"unsorted": {Time: ts, Priority: alert.PriorityDebug, Rule: "r", OutputFields: alert.Fields{
			{Key: "z", Value: alert.StringValue("1")}, {Key: "a", Value: alert.IntValue(2)}, {Key: "z", Value: alert.BoolValue(false)}, {Key: "m", Value: alert.NullValue()}}},
		"bad priority": {Time: ts, Priority: alert.Priority(42), Rule: "r"},
		"bad year":     {Time: time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC), Priority: alert.PriorityDebug, Rule: "r"},
	} {
		t.Run(name, func(t *testing.T) {
			want, wantErr := outputs.FalcoJSON(a)
			got, err := appendFalcoJSON([]byte("prefix"), a)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("error %v, FalcoJSON's %v", err, wantErr)
			}
			if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("got  %s\nwant prefix%s", got, want)
			}
		})
	}
}

func FuzzAppendFalcoJSON(f *testing.F) {
	f.Add(`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","output":"x<y","output_fields":{"a":1,"b":"c","d":[1.5],"e":null,"f":true}}`)
	f.Add(`{"rule":"r\u00e9","priority":"info","time":"2026-01-01T00:00:00.5+05:30","tags":["t"],"hostname":"h","uuid":"u"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		a, err := alert.Decode([]byte(doc))
		if err != nil {
			return
		}
		want, wantErr := outputs.FalcoJSON(a)
		got, err := appendFalcoJSON(nil, a)
		if (err == nil) != (wantErr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("got %s (%v)\nwant %s (%v)", got, err, want, wantErr)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	a, err := alert.Decode([]byte(`{"uuid":"4f6c3a0e-1b7a-4c55-9a53-2c4a1c3b8f10","time":"2026-11-22T10:00:00.123456789Z","priority":"Warning","rule":"Read sensitive file untrusted","output":"10:00:00.123456789: Warning Sensitive file opened for reading file=/etc/shadow","output_fields":{"evt.type":"openat","fd.name":"/etc/shadow","proc.name":"cat","user.uid":0,"fd.ino":18446744073709551615,"proc.tty":null,"evt.failed":false},"source":"syscall","tags":["filesystem","mitre_credential_access"],"hostname":"node-1"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			buf, _ = appendFalcoJSON(buf[:0], a)
		}
	})
	// cold: the load generator's alert (13 output_fields), 100,000 copies
	// decoded one by one (~250 MB, past the caches), encoded in turn as a
	// queue worker meets them: sorting output_fields keys touches every
	// key's bytes, which is what costs when they are not in cache.
	b.Run("fast-cold", func(b *testing.B) {
		const n = 100_000
		as := make([]*alert.Alert, n)
		for i := range as {
			if as[i], err = alert.Decode([]byte(coldAlert)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		var buf []byte
		i := 0
		for b.Loop() {
			buf, _ = appendFalcoJSON(buf[:0], as[i%n])
			i++
		}
	})
	b.Run("FalcoJSON", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = outputs.FalcoJSON(a)
		}
	})
}

// coldAlert is cmd/lanner-loadgen's alert.
const coldAlert = `{"uuid":"00000000-0000-4000-8000-000000000001","time":"2026-11-22T10:00:00.123456789Z","priority":"Warning","rule":"Read sensitive file untrusted",` +
	`"output":"10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=systemd ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816 container_id=host container_name=host)",` +
	`"output_fields":{"container.id":"host","container.name":"host","evt.time":1763805600123456789,"evt.type":"openat","fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow","proc.exepath":"/usr/bin/cat","proc.name":"cat","proc.pname":"bash","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0},` +
	`"source":"syscall","tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],"hostname":"node-1"}`
