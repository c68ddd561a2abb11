package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/config"
)

func testAlert(i int) *alert.Alert { return outputtest.Alert(i) }

func batchOf(n int) []outputs.Message { return outputtest.Alerts(0, n) }

func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func newOutput(t testing.TB, c Config) *Output {
	t.Helper()
	o, err := New(c, outputs.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

// consume reads n records of one partition back with kafka-go's Reader.
func consume(t testing.TB, brokers []string, topic string, partition, n int, dialer *kafkago.Dialer) []kafkago.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 50 * time.Millisecond, Dialer: dialer, MaxAttempts: 3,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d records: %v", topic, partition, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func header(m kafkago.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return "<missing>"
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		c       Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", c: Config{HostPort: "k1,k2:9093", Topic: "falco"}, check: func(t *testing.T, c Config) {
			if c.Key != DefaultKey || c.Balancer != "hash" || c.Compression != "none" || c.RequiredAcks != "NONE" || c.Timeout != DefaultTimeout {
				t.Errorf("defaults not applied: %+v", c)
			}
			if got := strings.Join(c.Brokers(), ","); got != "k1:9092,k2:9093" {
				t.Errorf("brokers = %s", got)
			}
		}},
		{name: "no brokers", c: Config{HostPort: " , ", Topic: "x"}, wantErr: "hostport"},
		{name: "no topic", c: Config{HostPort: "k"}, wantErr: "topic is required"},
		{name: "bad topic template", c: Config{HostPort: "k", Topic: "falco-{{ .Priority"}, wantErr: "topic"},
		{name: "bad key template", c: Config{HostPort: "k", Topic: "t", Key: "{{ nosuchfunc }}"}, wantErr: "key"},
		{name: "bad balancer", c: Config{HostPort: "k", Topic: "t", Balancer: "sticky"}, wantErr: "balancer"},
		{name: "bad compression", c: Config{HostPort: "k", Topic: "t", Compression: "brotli"}, wantErr: "compression"},
		{name: "bad acks", c: Config{HostPort: "k", Topic: "t", RequiredAcks: "TWO"}, wantErr: "requiredacks"},
		{name: "falcosidekick spellings", c: Config{HostPort: "k", Topic: "t", Balancer: "round_robin", Compression: "ZSTD", RequiredAcks: "all", SASL: "SCRAM_SHA512", Username: "u", Password: "p"}},
		{name: "bad sasl", c: Config{HostPort: "k", Topic: "t", SASL: "GSSAPI", Username: "u", Password: "p"}, wantErr: "sasl"},
		{name: "sasl without password", c: Config{HostPort: "k", Topic: "t", SASL: "PLAIN", Username: "u"}, wantErr: "username and password"},
		{name: "password_file", c: Config{HostPort: "k", Topic: "t", SASL: "PLAIN", Username: "u", PasswordFile: pw}, check: func(t *testing.T, c Config) {
			if c.Password != "s3cret-pass" {
				t.Errorf("password from file = %q", c.Password)
			}
		}},
		{name: "password and file", c: Config{HostPort: "k", Topic: "t", Password: "x", PasswordFile: pw}, wantErr: "not both"},
		{name: "missing password_file", c: Config{HostPort: "k", Topic: "t", PasswordFile: filepath.Join(dir, "nope")}, wantErr: "password_file"},
		{name: "tls cert without key", c: Config{HostPort: "k", Topic: "t", TLS: TLS{TLSConfig: tlsFiles(pw, "")}}, wantErr: "cert_file and key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestTLSYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    TLS
		wantErr string
	}{
		{in: "tls: true", want: TLS{Enabled: true}},
		{in: "tls: false", want: TLS{}},
		{in: "tls: {ca_file: /ca.pem}", want: TLS{Enabled: true, TLSConfig: tlsFiles("", "")}},
		{in: "tls: {enabled: false, insecure_skip_verify: true}", want: func() TLS { x := TLS{}; x.InsecureSkipVerify = true; return x }()},
		{in: "tls: {cafile: x}", wantErr: "unknown key"},
		{in: "tls: [1]", wantErr: "want true/false"},
	}
	for _, tt := range tests {
		var c struct {
			TLS TLS `yaml:"tls"`
		}
		err := yaml.Unmarshal([]byte(tt.in), &c)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if tt.in == "tls: {ca_file: /ca.pem}" {
			tt.want.CAFile = "/ca.pem"
		}
		if c.TLS != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.in, c.TLS, tt.want)
		}
	}
}

// TestGoldenRecord pins the record layout: value (Falco JSON), key, topic
// and headers. Run with -update to rewrite testdata/record.golden.
func TestGoldenRecord(t *testing.T) {
	o := newOutput(t, Config{HostPort: "127.0.0.1:1", Topic: "falco-{{ .Priority | lower }}"})
	var sc scratch
	var out bytes.Buffer
	for i := range 3 {
		km, err := o.record(outputs.Message{Alert: testAlert(i)}, &sc)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "topic: %s\nkey: %s\n", km.Topic, km.Key)
		for _, h := range km.Headers {
			fmt.Fprintf(&out, "header %s: %s\n", h.Key, h.Value)
		}
		fmt.Fprintf(&out, "value: %s\n\n", km.Value)
	}
	outputtest.Golden(t, "record", out.Bytes())
}

func TestTemplates(t *testing.T) {
	a := testAlert(1)
	a.OutputFields = a.OutputFields.Set("k8s.ns.name", alert.StringValue("prod"))
	a.Rule = "Read sensitive file untrusted"
	tests := []struct{ tmpl, want string }{
		{"falco", "falco"},
		{"falco-{{ .Priority | lower }}", "falco-critical"},
		{"{{ .Priority | upper }}", "CRITICAL"},
		{`{{ field .OutputFields "k8s.ns.name" }}`, "prod"},
		{`{{ field .OutputFields "absent" }}`, ""},
		{`{{ .Rule | replace " " "_" | lower }}`, "read_sensitive_file_untrusted"},
		{`{{ index .OutputFields "absent" | default "none" }}`, "none"},
		{`{{ .Hostname }}`, "node-1"},
		// Templates reading .OutputFields as a map (index, range) get one.
		{`{{ index .OutputFields "k8s.ns.name" }}-{{ field .OutputFields "proc.pid" }}`, "prod-4001"},
		{`{{ range $k, $v := .OutputFields }}{{ if eq $k "proc.pid" "user.uid" }}{{ $k }}={{ $v }};{{ end }}{{ end }}`, "proc.pid=4001;user.uid=0;"},
		{`{{ with $.OutputFields }}{{ len . }}{{ end }}`, "11"},
		{`{{ field .OutputFields "proc.tty" }}`, "<NA>"},
	}
	var sb strings.Builder
	for _, tt := range tests {
		f, err := parseTemplate("t", tt.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tt.tmpl, err)
		}
		got, err := f.render(a, &sb)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}

// Only templates that read .OutputFields other than through field get it
// as a map, built per alert; field looks keys up in the Fields.
func TestReadsFieldMap(t *testing.T) {
	for tmpl, want := range map[string]bool{
		`{{ field .OutputFields "k8s.ns.name" | default .Hostname }}`:          false,
		`falco-{{ .Priority | lower }}-{{ field .OutputFields "a" }}`:          false,
		`{{ index .OutputFields "k" }}`:                                        true,
		`{{ range $k, $v := .OutputFields }}{{ $k }}{{ end }}`:                 true,
		`{{ with $.OutputFields }}x{{ end }}`:                                  true,
		`{{ if .Rule }}{{ else }}{{ .OutputFields }}{{ end }}`:                 true,
		`{{ define "x" }}{{ len .OutputFields }}{{ end }}{{ template "x" . }}`: true,
		`{{ field (.OutputFields) "k" }}`:                                      true,
		`{{ $a := . }}{{ field .OutputFields "k" }}{{ $a.OutputFields.x }}`:    true,
	} {
		f, err := parseTemplate("t", tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		if f.fieldMap != want {
			t.Errorf("%s: fieldMap = %v, want %v", tmpl, f.fieldMap, want)
		}
	}
	f, _ := parseTemplate("t", `{{ field .Rule "k" }}`)
	var sb strings.Builder
	if _, err := f.render(testAlert(0), &sb); err == nil {
		t.Error("field on a string: no error")
	}
}

// TestRoundTripCodecs writes through kfake with each codec and reads the
// records back with kafka-go's Reader: value, key, headers, order.
func TestRoundTripCodecs(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c := newCluster(t)
			topic := "falco-" + codec
			o := newOutput(t, Config{HostPort: strings.Join(c.ListenAddrs(), ","), Topic: topic, Compression: codec, RequiredAcks: "ALL", TopicCreation: true})
			batch := batchOf(50)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := o.Send(ctx, batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := consume(t, c.ListenAddrs(), topic, 0, len(batch), nil)
			for i, m := range got {
				a := batch[i].Alert
				dec, err := alert.Decode(m.Value)
				if err != nil {
					t.Fatalf("record %d: value is not a Falco alert: %v", i, err)
				}
				if dec.UUID != a.UUID || dec.Output != a.Output || !dec.Time.Equal(a.Time) || dec.Priority != a.Priority {
					t.Errorf("record %d: got %+v, want %+v", i, dec, a)
				}
				if string(m.Key) != a.Hostname {
					t.Errorf("record %d: key %q, want %q", i, m.Key, a.Hostname)
				}
				for k, want := range map[string]string{HeaderPriority: a.Priority.String(), HeaderRule: a.Rule, HeaderSource: a.Source, HeaderUUID: a.UUID} {
					if h := header(m, k); h != want {
						t.Errorf("record %d: header %s = %q, want %q", i, k, h, want)
					}
				}
			}
		})
	}
}

func TestTemplatedTopicAndOverride(t *testing.T) {
	c := newCluster(t)
	o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "falco-{{ .Priority | lower }}", RequiredAcks: "ONE", TopicCreation: true})
	batch := batchOf(12) // Warning, Critical, Notice, Error x3
	batch = append(batch, outputs.Message{Alert: testAlert(100), Overrides: map[string]string{OverrideTopic: "audit"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Send(ctx, batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, p := range []string{"warning", "critical", "notice", "error"} {
		got := consume(t, c.ListenAddrs(), "falco-"+p, 0, 3, nil)
		for _, m := range got {
			if header(m, HeaderPriority) != strings.ToUpper(p[:1])+p[1:] {
				t.Errorf("topic falco-%s holds a %s alert", p, header(m, HeaderPriority))
			}
		}
	}
	if got := consume(t, c.ListenAddrs(), "audit", 0, 1, nil); header(got[0], HeaderUUID) != testAlert(100).UUID {
		t.Errorf("override topic got %s", header(got[0], HeaderUUID))
	}
}

// TestKeyKeepsHostOrder: with several partitions, all of one host's alerts
// land in one partition in the order they were sent.
func TestKeyKeepsHostOrder(t *testing.T) {
	for _, bal := range []string{"hash", "murmur2", "crc32"} {
		t.Run(bal, func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(3, "keyed"))
			o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "keyed", Balancer: bal, RequiredAcks: "ALL"})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			batch := batchOf(40)
			if err := o.Send(ctx, batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			seen := map[string]int{} // host -> partition
			total := 0
			for p := range 3 {
				off, err := partitionEnd(c.ListenAddrs()[0], "keyed", p)
				if err != nil {
					t.Fatal(err)
				}
				if off == 0 {
					continue
				}
				last := map[string]string{}
				for _, m := range consume(t, c.ListenAddrs(), "keyed", p, int(off), nil) {
					host := string(m.Key)
					if q, ok := seen[host]; ok && q != p {
						t.Errorf("host %s in partitions %d and %d", host, q, p)
					}
					seen[host] = p
					if u := header(m, HeaderUUID); u < last[host] {
						t.Errorf("host %s out of order: %s after %s", host, u, last[host])
					}
					last[host] = header(m, HeaderUUID)
					total++
				}
			}
			if total != len(batch) {
				t.Errorf("read %d records, sent %d", total, len(batch))
			}
		})
	}
}

func partitionEnd(broker, topic string, p int) (int64, error) {
	conn, err := kafkago.DialLeader(context.Background(), "tcp", broker, topic, p)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ReadLastOffset()
}

func TestSASL(t *testing.T) {
	const user, pass = "lanner", "pa55-w0rd-never-logged"
	for _, mech := range []string{"PLAIN", "SCRAM_SHA256", "SCRAM_SHA512"} {
		t.Run(mech, func(t *testing.T) {
			kmech, _ := saslName(mech)
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(kmech, user, pass))
			o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "sasl", SASL: mech, Username: user, Password: pass, RequiredAcks: "ALL", TopicCreation: true})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := o.Send(ctx, batchOf(5)); err != nil {
				t.Fatalf("Send with good credentials: %v", err)
			}
			m, _ := mechanism(mech, user, pass)
			got := consume(t, c.ListenAddrs(), "sasl", 0, 5, &kafkago.Dialer{Timeout: 5 * time.Second, SASLMechanism: m})
			if len(got) != 5 {
				t.Fatalf("read %d", len(got))
			}

			bad := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "sasl", SASL: mech, Username: user, Password: pass + "-wrong-secret", RequiredAcks: "ALL"})
			err := bad.Send(ctx, batchOf(2))
			if err == nil {
				t.Fatal("Send with a wrong password succeeded")
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("error leaks the password: %v", err)
			}
			t.Logf("wrong password: retryable=%v: %v", outputs.IsRetryable(err), err)
		})
	}
}

// TestBrokerDownThenBack: Send fails retryably while no broker listens, then
// succeeds on a new cluster at the same address, and nothing is lost.
func TestBrokerDownThenBack(t *testing.T) {
	port, listen := outputtest.HeldPort(t)
	c1 := newCluster(t, kfake.Ports(port), kfake.ListenFn(listen))
	addr := c1.ListenAddrs()[0]
	o := newOutput(t, Config{HostPort: addr, Topic: "flaky", RequiredAcks: "ALL", TopicCreation: true, Timeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Send(ctx, batchOf(3)); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	c1.Close()

	down := batchOf(10)[3:]
	err := o.Send(ctx, down)
	if err == nil {
		t.Fatal("Send succeeded with the broker down")
	}
	if !outputs.IsRetryable(err) {
		t.Fatalf("broker down is not retryable: %v", err)
	}
	var pe *outputs.PartialError
	if errors.As(err, &pe) {
		for i, e := range pe.Failed {
			if !outputs.IsRetryable(e) {
				t.Errorf("item %d not retryable: %v", i, e)
			}
		}
	}

	// A restarted broker keeps its topics; the new in-memory cluster is
	// otherwise empty, so only what was sent after the restart is checked.
	c2 := newCluster(t, kfake.Ports(port), kfake.ListenFn(listen), kfake.SeedTopics(1, "flaky"))
	deadline := time.Now().Add(15 * time.Second)
	for {
		err = o.Send(ctx, down)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Send never recovered: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the router's queue would back off like this
	}
	got := consume(t, c2.ListenAddrs(), "flaky", 0, len(down), nil)
	for i, m := range got {
		if header(m, HeaderUUID) != down[i].Alert.UUID {
			t.Errorf("record %d: uuid %s, want %s", i, header(m, HeaderUUID), down[i].Alert.UUID)
		}
	}
}

func TestPartialInvalidTopic(t *testing.T) {
	c := newCluster(t)
	o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "good", RequiredAcks: "ALL", TopicCreation: true})
	batch := batchOf(4)
	batch[1].Overrides = map[string]string{OverrideTopic: "bad topic!"}
	huge := testAlert(2)
	huge.Output = strings.Repeat("x", maxBatchBytes)
	batch[2].Alert = huge
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := o.Send(ctx, batch)
	var pe *outputs.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("want PartialError, got %v", err)
	}
	if len(pe.Failed) != 2 || pe.Failed[1] == nil || pe.Failed[2] == nil {
		t.Fatalf("failed = %v", pe.Failed)
	}
	for i, e := range pe.Failed {
		if outputs.IsRetryable(e) {
			t.Errorf("item %d should be permanent: %v", i, e)
		}
	}
	if !errors.Is(pe.Failed[2], kafkago.MessageSizeTooLarge) {
		t.Errorf("item 2: %v", pe.Failed[2])
	}
	got := consume(t, c.ListenAddrs(), "good", 0, 2, nil)
	if header(got[0], HeaderUUID) != batch[0].Alert.UUID || header(got[1], HeaderUUID) != batch[3].Alert.UUID {
		t.Errorf("delivered the wrong records")
	}
}

// TestConformance runs the kit's generic checks: a broker that accepts
// connections but never answers (cancellation), a broker that is down and
// comes back (nothing lost), and no SASL password in errors or logs.
func TestConformance(t *testing.T) {
	const pass = "kafka-sasl-secret-pw"
	t.Run("cancel", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // accept and stay silent, like a hung broker
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		log, logs := outputtest.CaptureLogs()
		o, err := New(Config{HostPort: ln.Addr().String(), Topic: "t", SASL: "PLAIN", Username: "u", Password: pass}, outputs.Deps{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		outputtest.CheckContextCancel(t, o, outputtest.Alerts(0, 3))
		outputtest.AssertNoSecrets(t, []string{pass}, logs.String())
	})
	t.Run("down-then-back", func(t *testing.T) {
		port, listen := outputtest.HeldPort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		log, logs := outputtest.CaptureLogs()
		o, err := New(Config{HostPort: addr, Topic: "conf", SASL: "SCRAM_SHA256", Username: "u", Password: pass, RequiredAcks: "ALL", TopicCreation: true, Timeout: 2 * time.Second}, outputs.Deps{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		var c *kfake.Cluster
		outputtest.CheckDownThenBack(t, outputtest.DownThenBack{
			Out: o,
			Up: func() {
				c = newCluster(t, kfake.Ports(port), kfake.ListenFn(listen), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "u", pass))
			},
			Received: func() []string {
				m, _ := mechanism("SCRAM_SHA256", "u", pass)
				d := &kafkago.Dialer{Timeout: 5 * time.Second, SASLMechanism: m}
				conn, err := d.DialLeader(context.Background(), "tcp", addr, "conf", 0)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				n, err := conn.ReadLastOffset()
				conn.Close()
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, m := range consume(t, c.ListenAddrs(), "conf", 0, int(n), d) {
					out = append(out, string(m.Value))
				}
				return out
			},
			Secrets: []string{pass},
		})
		outputtest.AssertNoSecrets(t, []string{pass}, logs.String())
	})
}

func TestClassify(t *testing.T) {
	o := newOutput(t, Config{HostPort: "k", Topic: "t", SASL: "PLAIN", Username: "u", Password: "hunter2-secret"})
	tests := []struct {
		err       error
		retryable bool
	}{
		{kafkago.MessageSizeTooLarge, false},
		{kafkago.InvalidTopic, false},
		{kafkago.TopicAuthorizationFailed, false},
		{kafkago.SASLAuthenticationFailed, false},
		{fmt.Errorf("wrapped: %w", kafkago.InvalidRecord), false},
		{kafkago.LeaderNotAvailable, true},
		{kafkago.NotLeaderForPartition, true},
		{kafkago.RequestTimedOut, true},
		{kafkago.BrokerNotAvailable, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{context.DeadlineExceeded, true},
		{errors.New("auth failed for hunter2-secret"), true},
	}
	for _, tt := range tests {
		got := o.classify(tt.err)
		if outputs.IsRetryable(got) != tt.retryable {
			t.Errorf("%v: retryable = %v, want %v", tt.err, !tt.retryable, tt.retryable)
		}
		if strings.Contains(got.Error(), "hunter2-secret") {
			t.Errorf("secret in %q", got)
		}
	}
	if !errors.Is(o.classify(context.DeadlineExceeded), context.DeadlineExceeded) {
		t.Error("classify lost context.DeadlineExceeded")
	}
}

func tlsFiles(cert, key string) httpout.TLSConfig {
	return httpout.TLSConfig{CertFile: cert, KeyFile: key}
}

func TestTemplateFastPathMatchesEngine(t *testing.T) {
	a := testAlert(2)
	var sb strings.Builder
	for name := range getters {
		f, err := parseTemplate("t", "{{ ."+name+" }}")
		if err != nil || f.get == nil {
			t.Fatalf("%s: no fast path (%v)", name, err)
		}
		fast, _ := f.render(a, &sb)
		f.get = nil
		slow, err := f.render(a, &sb)
		if err != nil || fast != slow {
			t.Errorf("%s: fast %q, engine %q (%v)", name, fast, slow, err)
		}
	}
}

// TestTLS: kfake serving TLS, the output trusting the test CA; with mutual
// TLS the broker demands the client certificate; skip-verify without a CA.
func TestTLS(t *testing.T) {
	certs := outputtest.NewCerts(t)
	tests := []struct {
		name          string
		requireClient bool
		tls           TLS
		wantOK        bool
	}{
		{"ca", false, TLS{Enabled: true, TLSConfig: httpout.TLSConfig{CAFile: certs.CAFile}}, true},
		{"mutual", true, TLS{Enabled: true, TLSConfig: httpout.TLSConfig{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}}, true},
		{"mutual-without-cert", true, TLS{Enabled: true, TLSConfig: httpout.TLSConfig{CAFile: certs.CAFile}}, false},
		{"skip-verify", false, TLS{Enabled: true, TLSConfig: httpout.TLSConfig{InsecureSkipVerify: true}}, true},
		{"untrusted", false, TLS{Enabled: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, kfake.TLS(certs.ServerTLS(tt.requireClient)))
			o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "tls", TLS: tt.tls, RequiredAcks: "ALL", TopicCreation: true, Timeout: 3 * time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := o.Send(ctx, batchOf(3))
			if tt.wantOK && err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !tt.wantOK && err == nil {
				t.Fatal("Send succeeded without the right TLS settings")
			}
		})
	}
}

// TestFalcosidekickKeys: every key falcosidekick documents for `kafka:`
// decodes strictly into Config (minimumpriority is the router's), with the
// values falcosidekick's env vars would give.
func TestFalcosidekickKeys(t *testing.T) {
	sample := map[string]string{
		"hostport": "k1:9092,k2", "topic": "falco", "topiccreation": "true", "sasl": "SCRAM_SHA256",
		"tls": "true", "username": "u", "password": "p", "async": "false", "requiredacks": "NONE",
		"compression": "NONE", "balancer": "round_robin", "clientid": "lanner",
	}
	var doc strings.Builder
	for _, k := range config.SidekickKeys("kafka") {
		if k == "minimumpriority" {
			continue
		}
		v, ok := sample[k]
		if !ok {
			t.Fatalf("falcosidekick key %q has no sample value here: add it and make sure Config accepts it", k)
		}
		fmt.Fprintf(&doc, "%s: %s\n", k, v)
	}
	dec := yaml.NewDecoder(strings.NewReader(doc.String()))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode:\n%s\n%v", doc.String(), err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !c.TLS.Enabled || !c.TopicCreation || len(c.Brokers()) != 2 {
		t.Errorf("decoded %+v", c)
	}
}

// TestDefaultAcksNone: falcosidekick's default (no acknowledgement) still
// delivers; the broker just does not confirm it.
func TestDefaultAcksNone(t *testing.T) {
	c := newCluster(t)
	o := newOutput(t, Config{HostPort: c.ListenAddrs()[0], Topic: "noacks", TopicCreation: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Send(ctx, batchOf(5)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := consume(t, c.ListenAddrs(), "noacks", 0, 5, nil); len(got) != 5 {
		t.Fatalf("read %d", len(got))
	}
}
