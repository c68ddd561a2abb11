package alert

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString holds AppendJSONString to encoding/json on any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, long enough", "0123456\"", "<>&\"\\\x00\x1f\x7f\x80",
		"abcdefg\xff", "abcdefgh\u2028ijklmnop", "\u00e9t\u00e9 \u65e5\u672c", "\x1f\x20\x21\x22\x23\x24\x25\x26\x27"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

// Every byte value, alone and at several positions.
func TestAppendJSONStringEveryByte(t *testing.T) {
	for b := range 256 {
		for pos := range 11 {
			in := []byte("abcdefghijk")
			in[pos] = byte(b)
			want, _ := json.Marshal(string(in))
			if got := AppendJSONString(nil, string(in)); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: got %s, want %s", b, pos, got, want)
			}
		}
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := "10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow user=root command=cat /etc/shadow <&>)"
	var buf []byte
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendJSONString(buf[:0], s)
	}
}
