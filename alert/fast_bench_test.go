package alert

import (
	"encoding/json"
	"testing"
	"time"
)

// loadgenAlert is the alert cmd/lanner-loadgen sends (13 output_fields, 6 tags,
// ~1 KB, RFC3339Nano UTC time): the shape the router decodes under load.
const loadgenAlert = `{"uuid":"00000000-0000-4000-8000-00000000a3f1","time":"2026-11-22T10:00:00.123456789Z",` +
	`"priority":"Warning","rule":"Read sensitive file untrusted",` +
	`"output":"10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=systemd ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816 container_id=host container_name=host)",` +
	`"output_fields":{"container.id":"host","container.name":"host","evt.time":1763805600123456789,"evt.type":"openat","fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow","proc.exepath":"/usr/bin/cat","proc.name":"cat","proc.pname":"bash","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0},` +
	`"source":"syscall","tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],"hostname":"node-1"}`

// BenchmarkDecode compares the hot path with the reference decoder, for the
// small test alert and the load generator's realistic one.
func BenchmarkDecode(b *testing.B) {
	for _, in := range []struct {
		name string
		data string
	}{{"small", falcoAlert}, {"loadgen", loadgenAlert}} {
		data := []byte(in.data)
		for _, bc := range []struct {
			name string
			fn   func([]byte) (*Alert, error)
		}{{"fast", Decode}, {"reference", decodeSlow}} {
			b.Run(in.name+"/"+bc.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for range b.N {
					if _, err := bc.fn(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkParseTime compares the hand-written UTC time parser with time.Parse.
func BenchmarkParseTime(b *testing.B) {
	const ts = "2026-11-22T10:00:00.123456789Z"
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			if _, ok := parseTimeUTC(ts); !ok {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("time.Parse", func(b *testing.B) {
		for range b.N {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMarshal is json.Marshal of a decoded alert: what the agent sends
// for each alert, and Loki's JSON lines.
func BenchmarkMarshal(b *testing.B) {
	a, err := Decode([]byte(loadgenAlert))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(a); err != nil {
			b.Fatal(err)
		}
	}
}
