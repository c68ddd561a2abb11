package loki

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

const (
	apiKey = "glc_s3cr3t-l0ki-ap1key"
	tenant = "team-sec"
)

func newOutput(t testing.TB, c Config, d outputs.Deps) *Output {
	t.Helper()
	o, err := New(c, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestConformanceJSON(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			return newOutput(t, Config{HostPort: tg.URL, Tenant: tenant, User: "12345", APIKey: apiKey,
				Labels: []string{"k8s.ns.name", "proc.name"}}, tg.Deps)
		},
		Secrets:      []string{apiKey},
		Golden:       "loki-json",
		GoldenAlerts: 4,
	}.Run(t)
}

func TestConformanceProtobufJSONLines(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			return newOutput(t, Config{HostPort: tg.URL, Protobuf: true, Format: "json"}, tg.Deps)
		},
		Decode: func(r outputtest.Request) []byte {
			b, err := snappy.Decode(nil, r.Body)
			if err != nil {
				return []byte("not snappy: " + err.Error())
			}
			return b
		},
		Golden: "loki-protobuf",
	}.Run(t)
}

// decodeProto reads back the PushRequest encodeProto wrote, with protowire,
// as an independent check of the field numbers and nesting.
func decodeProto(t testing.TB, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fields := func(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatal("bad tag")
			}
			b = b[n:]
			switch typ {
			case protowire.BytesType:
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					t.Fatal("bad bytes")
				}
				f(num, typ, v, 0)
				b = b[m:]
			case protowire.VarintType:
				x, m := protowire.ConsumeVarint(b)
				if m < 0 {
					t.Fatal("bad varint")
				}
				f(num, typ, nil, x)
				b = b[m:]
			default:
				t.Fatalf("unexpected wire type %d", typ)
			}
		}
	}
	fields(b, func(_ protowire.Number, _ protowire.Type, stream []byte, _ uint64) {
		var labels string
		var lines []string
		fields(stream, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				labels = string(v)
			case 2:
				var sec, ns uint64
				var line string
				fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
					if num == 1 {
						fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
							if num == 1 {
								sec = x
							} else {
								ns = x
							}
						})
					} else {
						line = string(v)
					}
				})
				lines = append(lines, fmt.Sprintf("%d.%09d %s", sec, ns, line))
			}
		})
		out[labels] = append(out[labels], lines...)
	})
	return out
}

func TestProtobufPayload(t *testing.T) {
	o := newOutput(t, Config{HostPort: "http://127.0.0.1:1", Protobuf: true}, outputs.Deps{})
	body, ctype, err := o.Payload(outputtest.Alerts(0, 3))
	if err != nil || ctype != "application/x-protobuf" {
		t.Fatal(err, ctype)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeProto(t, raw)
	a := outputtest.Alert(1)
	key := `{hostname="node-1", priority="Critical", rule="Terminal shell in container", source="syscall", tags="filesystem,mitre_credential_access"}`
	want := fmt.Sprintf("%d.%09d %s", a.Time.Unix(), a.Time.Nanosecond(), a.Output)
	if len(got) != 3 || len(got[key]) != 1 || got[key][0] != want {
		t.Errorf("decoded %v", got)
	}
}

func TestLabelsAndCardinalityGuard(t *testing.T) {
	log, logs := outputtest.CaptureLogs()
	o := newOutput(t, Config{HostPort: "http://127.0.0.1:1", ExtraLabels: "k8s.pod.name, 1bad-key", Labels: []string{"rule"}, MaxLabelValues: 3}, outputs.Deps{Logger: log})
	a := outputtest.Alert(0)
	a.OutputFields = a.OutputFields.Set("1bad-key", alert.StringValue("v"))
	ls := o.streamLabels(a)
	got := promLabels(ls)
	want := `{_1bad_key="v", hostname="node-0", k8s_pod_name="web-0", priority="Warning", rule="Read sensitive file untrusted", source="syscall", tags="filesystem,mitre_credential_access"}`
	if got != want {
		t.Errorf("labels\n got %s\nwant %s", got, want)
	}
	var pods []string
	for i := range 6 { // pods web-0..web-5: the 4th distinct value overflows
		b := outputtest.Alert(i)
		for _, l := range o.streamLabels(b) {
			if l.name == "k8s_pod_name" {
				pods = append(pods, l.value)
			}
		}
	}
	if strings.Join(pods, ",") != "web-0,web-1,web-2,other,other,other" || o.Overflowed() < 3 {
		t.Errorf("pods %v overflowed %d", pods, o.Overflowed())
	}
	if n := strings.Count(logs.String(), "too many distinct values"); n != 2 { // k8s_pod_name and hostname? hostname has 3 values only
		t.Logf("warnings: %d\n%s", n, logs.String())
	}
	if strings.Count(logs.String(), `"label":"k8s_pod_name"`) != 1 {
		t.Errorf("want one warning for k8s_pod_name:\n%s", logs.String())
	}
}

var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func FuzzLabelName(f *testing.F) {
	for _, s := range []string{"k8s.pod.name", "1abc", "", "ünï", "a-b c", "__name__"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := LabelName(s); !labelRE.MatchString(got) {
			t.Fatalf("LabelName(%q) = %q", s, got)
		}
	})
}

func TestStreamsGrouped(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	rec.Respond(204, nil, "")
	o := newOutput(t, Config{HostPort: rec.URL}, outputs.Deps{})
	msgs := outputtest.Alerts(0, 24)
	if err := o.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 || reqs[0].URI != DefaultEndpoint {
		t.Fatalf("want one push to %s, got %d", DefaultEndpoint, len(reqs))
	}
	var p struct {
		Streams []struct {
			Stream map[string]string
			Values [][2]string
		}
	}
	if err := json.Unmarshal(reqs[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	// Alert i: priority i%4, rule i%3, host i%3 -> 12 label sets, 2 alerts each.
	total := 0
	for _, s := range p.Streams {
		total += len(s.Values)
		if len(s.Values) != 2 || s.Values[0][0] > s.Values[1][0] {
			t.Errorf("stream %v: %v", s.Stream, s.Values)
		}
	}
	if len(p.Streams) != 12 || total != 24 {
		t.Errorf("%d streams, %d entries", len(p.Streams), total)
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{}, "hostport is required"},
		{Config{HostPort: "localhost:3100"}, "not an http(s) URL"},
		{Config{HostPort: "http://l:3100", Format: "xml"}, "want text or json"},
		{Config{HostPort: "http://l:3100", User: "u"}, "together"},
		{Config{HostPort: "http://l:3100", APIKeyFile: filepath.Join(t.TempDir(), "none")}, "apikey_file"},
	}
	for _, c := range cases {
		if _, err := New(c.c, outputs.Deps{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.c, err, c.want)
		}
	}
	c := Config{HostPort: "http://l:3100", Endpoint: "api/prom/push", ExtraLabels: "a,b"}
	if err := c.Validate(); err != nil || c.Endpoint != "/api/prom/push" || c.Format != "text" || len(c.Labels) != 2 || c.MaxLabelValues != DefaultMaxLabelValues {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

// victoriaLogs starts VictoriaLogs (a real server speaking Loki's push API)
// and returns its base URL.
func victoriaLogs(tb testing.TB) string {
	base, _ := victoriaLogsWithLog(tb)
	return base
}

func victoriaLogsWithLog(tb testing.TB) (string, *outputtest.LogBuffer) {
	bin := outputtest.BackendBinary(tb, "victoria-logs")
	addr := outputtest.FreeAddr(tb)
	log := outputtest.StartProcess(tb, "http://"+addr+"/health", bin,
		"-storageDataPath="+tb.TempDir(), "-httpListenAddr="+addr, "-loggerLevel=WARN",
		"-retentionPeriod=100y", "-futureRetention=100y")
	return "http://" + addr, log
}

// vlEndpoint is VictoriaLogs's Loki push path; _stream_fields makes our
// labels its stream fields.
const vlEndpoint = "/insert/loki/api/v1/push?_stream_fields=rule,priority,source,hostname,tags,k8s_ns_name"

// queryVL runs a LogsQL query and returns the result rows, polling until
// want rows are visible (VictoriaLogs makes data searchable ~1s after ingest).
func queryVL(tb testing.TB, base, q string, want int) []map[string]string {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}, "limit": {"100000"}})
		if err != nil {
			tb.Fatal(err)
		}
		var rows []map[string]string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r map[string]string
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				tb.Fatalf("query %q: %v: %s", q, err, sc.Text())
			}
			rows = append(rows, r)
		}
		resp.Body.Close()
		if len(rows) >= want || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Push to a real server, JSON and protobuf, and read the alerts back with
// their labels.
func TestVictoriaLogs(t *testing.T) {
	base, vlog := victoriaLogsWithLog(t)
	defer func() {
		if t.Failed() {
			t.Logf("victoria-logs output:\n%s", vlog.String())
		}
	}()
	for _, pb := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", pb), func(t *testing.T) {
			o := newOutput(t, Config{HostPort: base, Endpoint: vlEndpoint, Protobuf: pb, Labels: []string{"k8s.ns.name"}, Tenant: "0"}, outputs.Deps{})
			first := 100
			if pb {
				first = 200
			}
			msgs := outputtest.Alerts(first, 20)
			now := time.Now().Add(-time.Minute)
			for i, m := range msgs {
				m.Alert.Time = now.Add(time.Duration(i) * time.Millisecond)
			}
			if err := o.Send(context.Background(), msgs); err != nil {
				t.Fatal(err)
			}
			m := msgs[3].Alert
			// Wait until the rows are searchable before filtering: a filter
			// polled too early kept answering empty now and then.
			queryVL(t, base, "*", first/100*20)
			rows := queryVL(t, base, `"`+outputtest.Marker(first+3)+`"`, 1)
			if len(rows) != 1 {
				all := queryVL(t, base, "*", 0)
				t.Fatalf("query back: %d rows; the server holds %d rows: %v", len(rows), len(all), all[:min(3, len(all))])
			}
			r := rows[0]
			if r["_msg"] != m.Output || r["rule"] != m.Rule || r["priority"] != m.Priority.String() || r["hostname"] != m.Hostname ||
				r["source"] != "syscall" || r["tags"] != "filesystem,mitre_credential_access" || r["k8s_ns_name"] != "default" {
				t.Errorf("row: %v", r)
			}
			if !strings.Contains(r["_stream"], `rule="`+m.Rule+`"`) {
				t.Errorf("stream %q lacks the rule label", r["_stream"])
			}
			got, _ := time.Parse(time.RFC3339Nano, r["_time"])
			if !got.Equal(m.Time) {
				t.Errorf("time %s, want %s", r["_time"], m.Time.Format(time.RFC3339Nano))
			}
			// Select by stream labels: all 20 arrive, none lost.
			all := queryVL(t, base, fmt.Sprintf(`_stream:{source="syscall"} "lanner-conf-00%d"*`, first/100), 20)
			if len(all) != 20 {
				t.Errorf("got %d of 20 back", len(all))
			}
		})
	}
}

// BenchmarkVictoriaLogs: 50,000 alerts from the real durable queue to a real
// Loki-API server, JSON and protobuf. Target: >= 30,000 alerts/s.
func BenchmarkVictoriaLogs(b *testing.B) {
	const n = 50_000
	base := victoriaLogs(b)
	for _, pb := range []bool{false, true} {
		b.Run(map[bool]string{false: "json", true: "protobuf"}[pb], func(b *testing.B) {
			msgs := outputtest.Alerts(0, n)
			now := time.Now().Add(-time.Hour)
			for i, m := range msgs {
				m.Alert.Time = now.Add(time.Duration(i) * time.Microsecond)
			}
			opts := queue.DefaultOutputOptions()
			opts.Concurrency, opts.BatchSize = 4, 1000
			for b.Loop() {
				o := newOutput(b, Config{HostPort: base, Endpoint: vlEndpoint, Protobuf: pb}, outputs.Deps{})
				res := outputtest.RunThroughQueue(b, outputtest.QueueRun{Out: o, Msgs: msgs, Options: &opts})
				outputtest.ReportQueueBench(b, res)
			}
		})
	}
}

// FuzzPayload: any alert content yields a valid JSON push and a decodable
// protobuf push.
func FuzzPayload(f *testing.F) {
	f.Add("rule", "line \"x\"\n", "host", "val")
	f.Add("", "\x00\xff", "", strings.Repeat("v", 3000))
	oj, _ := New(Config{HostPort: "http://127.0.0.1:1", Labels: []string{"f"}}, outputs.Deps{})
	op, _ := New(Config{HostPort: "http://127.0.0.1:1", Labels: []string{"f"}, Protobuf: true}, outputs.Deps{})
	f.Fuzz(func(t *testing.T, rule, output, host, value string) {
		a := outputtest.Alert(0)
		a.Rule, a.Output, a.Hostname = rule, output, host
		a.OutputFields = a.OutputFields.Set("f", alert.StringValue(value))
		b, _, err := oj.Payload([]outputs.Message{{Alert: a}})
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON push: %v %q", err, b)
		}
		b, _, err = op.Payload([]outputs.Message{{Alert: a}})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := snappy.Decode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(decodeProto(t, raw)) != 1 {
			t.Fatal("want one stream")
		}
	})
}

// BenchmarkSendOnly: the output alone (no queue) to VictoriaLogs, 50,000
// alerts in batches of 1,000.
func BenchmarkSendOnly(b *testing.B) {
	const n = 50_000
	base := victoriaLogs(b)
	msgs := outputtest.Alerts(0, n)
	now := time.Now().Add(-time.Hour)
	for i, m := range msgs {
		m.Alert.Time = now.Add(time.Duration(i) * time.Microsecond)
	}
	for b.Loop() {
		o := newOutput(b, Config{HostPort: base, Endpoint: vlEndpoint, Protobuf: true}, outputs.Deps{})
		start := time.Now()
		if _, err := outputtest.DeliverAll(context.Background(), o, msgs, 1000); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "alerts/s")
		b.ReportMetric(0, "ns/op")
	}
}
