package alert

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeFast checks the fast decoder against the reference one: whatever
// the fast path accepts, decodeSlow must accept with an equal result.
func FuzzDecodeFast(f *testing.F) {
	const head = `{"rule":"r","priority":"debug",`
	for _, s := range []string{
		`{"uuid":"u","output":"o \"q\" \u00e9","priority":"Warning","rule":"r","time":"2026-01-01T00:00:00.123456789Z","output_fields":{"a":1,"b":-2.5e3,"c":"s","d":true,"e":false,"f":null},"source":"syscall","tags":["x","y"],"hostname":"h"}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","tags":[],"output_fields":{}}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","tags":null,"output_fields":null,"extra":[1]}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","Rule":"x","unknown":1.5}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","output_fields":{"a":1},"output_fields":{"b":2}}`,
		` {"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","uuid":null} `,
		falcoAlert,
		loadgenAlert,
		// Escapes at string ends and across 8-byte lanes, control bytes,
		// \u escapes good and bad.
		head + `"time":"2026-01-01T00:00:00Z","output":"abcdefg\\"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"abcdefgh\""}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"\"","source":"\\","hostname":"\/\b\f\n\r\t"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"1234567\u00e9\uD83D\uDE00\ud800"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"\u00g0"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"\u00e"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"\x"}`,
		head + `"time":"2026-01-01T00:00:00Z","output":"tab	inside"}`,
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output\":\"12345678\x1f\"}",
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output\":\"del\x7f\"}",
		head + `"time":"2026-01-01T00:00:00Z","tags":["a\"b","c\\","\u0041"]}`,
		head + `"time":"2026-01-01T00:00:00Z","output_fields":{"k":"v\"","n":"\u00e9"}}`,
		head + `"time":"2026-01-01T00:00:00Z","output_fields":{"k\"":"v"}}`,
		head + `"time":"2026-01-01T00:00:00Z","output_fields":{"k":1,"k":"dup"}}`,
		// UTF-8: valid, invalid, truncated before the quote, in keys, in
		// skipped values, and outside strings.
		head + `"time":"2026-01-01T00:00:00Z","output":"héllo wörld ✓ 😀"}`,
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output\":\"1234567\xff\"}",
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output\":\"abc\xe2\x82\"}",
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output\":\"\xed\xa0\x80\"}",
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{\"k\xc3\xa9\":\"v\xc3\"}}",
		head + "\"time\":\"2026-01-01T00:00:00Z\",\"x\":\"\xc0\xaf\"}",
		head + "\"time\":\"2026-01-01T00:00:00Z\"}\xc3\xa9",
		// Times: offsets, no fraction, other spellings, edges of every range.
		head + `"time":"2026-01-01T00:00:00+01:00"}`,
		head + `"time":"2026-01-01T00:00:00.5-07:30"}`,
		head + `"time":"2026-01-01T00:00:00z"}`,
		head + `"time":"2026-01-01t00:00:00Z"}`,
		head + `"time":"2026-01-01 00:00:00Z"}`,
		head + `"time":"2024-02-29T23:59:59.999999999Z"}`,
		head + `"time":"2023-02-29T00:00:00Z"}`,
		head + `"time":"2100-02-29T00:00:00Z"}`,
		head + `"time":"2000-02-29T00:00:00Z"}`,
		head + `"time":"2026-04-31T00:00:00Z"}`,
		head + `"time":"2026-12-31T24:00:00Z"}`,
		head + `"time":"2026-12-31T23:60:00Z"}`,
		head + `"time":"2026-12-31T23:59:60Z"}`,
		head + `"time":"2026-00-01T00:00:00Z"}`,
		head + `"time":"2026-13-01T00:00:00Z"}`,
		head + `"time":"2026-01-00T00:00:00Z"}`,
		head + `"time":"2026-01-32T00:00:00Z"}`,
		head + `"time":"0000-01-01T00:00:00Z"}`,
		head + `"time":"9999-12-31T23:59:59.999999999Z"}`,
		head + `"time":"2026-01-01T00:00:00.1234567891Z"}`,
		head + `"time":"2026-01-01T00:00:00.Z"}`,
		head + `"time":"2026-01-01T00:00:00,5Z"}`,
		head + `"time":"2026-01-01T00:00:00.5"}`,
		head + `"time":"2026-01-01T00:00:00.-5Z"}`,
		head + `"time":"+026-01-01T00:00:00Z"}`,
		head + `"time":"2026-1-01T00:00:00Z"}`,
		head + `"time":"2026-01-01T00:00:00\u005a"}`,
		// Priorities: Falco's spelling and the others ParsePriority takes.
		`{"rule":"r","priority":"Informational","time":"2026-01-01T00:00:00Z"}`,
		`{"rule":"r","priority":"WARNING","time":"2026-01-01T00:00:00Z"}`,
		`{"rule":"r","priority":" Warning ","time":"2026-01-01T00:00:00Z"}`,
		`{"rule":"r","priority":"Warnin","time":"2026-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast := decodeFast(data)
		if fast == nil {
			return
		}
		slow, err := decodeSlow(data)
		if err != nil {
			t.Fatalf("fast path accepted what decodeSlow rejects (%v): %q", err, data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v\nfor %q", fast, slow, data)
		}
	})
}

// TestDecodeFastTakesCommonAlerts guards the speed-up itself: the alerts the
// router sees must not fall back to the slow path.
func TestDecodeFastTakesCommonAlerts(t *testing.T) {
	for name, in := range map[string]string{"small": falcoAlert, "loadgen": loadgenAlert} {
		fast := decodeFast([]byte(in))
		if fast == nil {
			t.Fatalf("%s: fast path declined", name)
		}
		slow, err := decodeSlow([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s: fast %+v\nslow %+v", name, fast, slow)
		}
	}
}

// TestDecodeFastManyValues goes past the stack buffers the fast path collects
// tags and output_fields in, with duplicate field keys (the last one wins).
func TestDecodeFastManyValues(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100} {
		var tags, fields []string
		for i := range n {
			tags = append(tags, fmt.Sprintf("%q", fmt.Sprint("t", i)))
			fields = append(fields, fmt.Sprintf(`"f%d":%d,"s%d":"v%d","f%d":"dup"`, i%20, i, i, i, i%7))
		}
		data := []byte(`{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","tags":[` +
			strings.Join(tags, ",") + `],"output_fields":{` + strings.Join(fields, ",") + `}}`)
		fast := decodeFast(data)
		if fast == nil {
			t.Fatalf("%d values: fast path declined", n)
		}
		slow, err := decodeSlow(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%d values: fast %+v\nslow %+v", n, fast, slow)
		}
	}
}

// TestDecodeFastStrings puts each kind of special byte at every offset of
// strings up to a few scan lanes long, in each place strings occur, and checks
// the fast path against the slow one, and that it declines nothing valid.
func TestDecodeFastStrings(t *testing.T) {
	specials := []struct {
		name, s string
		valid   bool // decodeSlow accepts the alert
		fast    bool // the fast path must take it itself
	}{
		{"plain", "x", true, true},
		{"escaped quote", `\"`, true, true},
		{"escaped backslash", `\\`, true, true},
		{"escape u", `\u00e9`, true, true},
		{"escape surrogate pair", `\ud83d\ude00`, true, true},
		{"lone surrogate", `\ud800`, true, true},
		{"bad escape", `\q`, false, false},
		{"short escape u", `\u12x`, false, false},
		{"tab", "\t", false, false},
		{"control", "\x01", false, false},
		{"unit separator", "\x1f", false, false},
		{"del", "\x7f", true, true},
		{"two-byte", "é", true, true},
		{"four-byte", "😀", true, true},
		{"invalid byte", "\xff", false, false},
		{"truncated", "\xe2\x82", false, false},
		{"surrogate bytes", "\xed\xa0\x80", false, false},
		{"overlong", "\xc0\xaf", false, false},
	}
	places := []struct {
		name string
		doc  func(s string) string
	}{
		{"output", func(s string) string {
			return `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","output":"` + s + `"}`
		}},
		{"tag", func(s string) string {
			return `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","tags":["a","` + s + `"]}`
		}},
		{"field value", func(s string) string {
			return `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","output_fields":{"k":"` + s + `"}}`
		}},
		{"unknown key value", func(s string) string {
			return `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","x":"` + s + `"}`
		}},
	}
	for _, sp := range specials {
		for _, pl := range places {
			for n := range 20 {
				for pos := 0; pos <= n; pos++ {
					s := strings.Repeat("a", pos) + sp.s + strings.Repeat("b", n-pos)
					data := []byte(pl.doc(s))
					fast := decodeFast(data)
					slow, err := decodeSlow(data)
					switch {
					case (err == nil) != sp.valid:
						t.Fatalf("%s in %s: decodeSlow error %v, want valid=%v: %q", sp.name, pl.name, err, sp.valid, data)
					case fast == nil && sp.fast:
						t.Fatalf("%s in %s: fast path declined %q", sp.name, pl.name, data)
					case fast != nil && err != nil:
						t.Fatalf("%s in %s: fast path accepted what decodeSlow rejects (%v): %q", sp.name, pl.name, err, data)
					case fast != nil && !reflect.DeepEqual(fast, slow):
						t.Fatalf("%s in %s: fast %+v\nslow %+v\nfor %q", sp.name, pl.name, fast, slow, data)
					}
				}
			}
		}
	}
}

// TestParseTimeUTC compares the hand-written parser with time.Parse over
// every month and day (valid or not) of leap, non-leap and century years,
// every fraction length and a few spellings it must leave to time.Parse.
func TestParseTimeUTC(t *testing.T) {
	check := func(ts string, mustAccept bool) {
		t.Helper()
		got, ok := parseTimeUTC(ts)
		want, err := time.Parse(time.RFC3339Nano, ts)
		switch {
		case ok && err != nil:
			t.Fatalf("parseTimeUTC accepted %q, time.Parse says %v", ts, err)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("parseTimeUTC(%q) = %#v, time.Parse gives %#v", ts, got, want)
		case !ok && mustAccept:
			t.Fatalf("parseTimeUTC declined %q", ts)
		}
	}
	fracs := []string{"", ".1", ".12", ".123", ".1234", ".12345", ".123456", ".1234567", ".12345678", ".123456789", ".000000001", ".999999999"}
	for _, year := range []int{0, 1, 4, 100, 400, 1600, 1900, 1970, 1999, 2000, 2023, 2024, 2026, 2100, 2400, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				for _, frac := range fracs {
					ts := fmt.Sprintf("%04d-%02d-%02dT12:34:56%sZ", year, month, day, frac)
					valid := month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(month, year)
					check(ts, valid)
				}
			}
		}
	}
	for _, hms := range []string{"00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99", "0a:00:00", "00:0:000"} {
		check("2026-06-15T"+hms+"Z", false)
	}
	for _, ts := range []string{
		"", "Z", "2026-06-15T12:34:56", "2026-06-15T12:34:56z", "2026-06-15t12:34:56Z",
		"2026-06-15 12:34:56Z", "2026-06-15T12:34:56+00:00", "2026-06-15T12:34:56.5+01:00",
		"2026-06-15T12:34:56.1234567891Z", "2026-06-15T12:34:56.Z", "2026-06-15T12:34:56,5Z",
		"2026-06-15T12:34:56.-5Z", "2026-06-15T12:34:56.5aZ", "+026-06-15T12:34:56Z", "2026/06/15T12:34:56Z",
		"-001-06-15T12:34:56Z", "2026-06-15T12:34:56ZZ", "2026-06-15T12:34:56.ZZ",
	} {
		check(ts, false)
	}
	// What Falco and the load generator write must take the fast path.
	for _, tm := range []time.Time{
		time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 22, 10, 0, 0, 120000000, time.UTC),
		time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		time.Now().UTC(),
	} {
		check(tm.Format(time.RFC3339Nano), true)
	}
}

// FuzzParseTimeUTC: whatever the hand-written parser accepts, time.Parse must
// parse to an identical time.Time.
func FuzzParseTimeUTC(f *testing.F) {
	for _, s := range []string{
		"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789Z", "2024-02-29T23:59:59.5Z",
		"2023-02-29T00:00:00Z", "2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00z", "0000-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ts string) {
		got, ok := parseTimeUTC(ts)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("parseTimeUTC accepted %q, time.Parse says %v", ts, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseTimeUTC(%q) = %#v, time.Parse gives %#v", ts, got, want)
		}
	})
}

func TestExactPriority(t *testing.T) {
	for p := PriorityDebug; p <= PriorityEmergency; p++ {
		if got := exactPriority(p.String()); got != p {
			t.Errorf("exactPriority(%q) = %v", p.String(), got)
		}
	}
	for _, s := range []string{"", "warning", "WARNING", " Warning", "Warn", "Info", "Severe"} {
		if got := exactPriority(s); got != PriorityUnset {
			t.Errorf("exactPriority(%q) = %v, want PriorityUnset (left to ParsePriority)", s, got)
		}
	}
}
