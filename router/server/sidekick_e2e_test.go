package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/config"
)

// TestSidekickEnvDeliversToAllFive configures the router with nothing but
// falcosidekick's environment variables (no config file), posts one alert as
// Falco's http_output does, and reads it back from all five destinations:
// a webhook receiver, Slack (slacktest), Kafka (kfake, read with kafka-go),
// Elasticsearch (ZincSearch) and Loki (VictoriaLogs's Loki push API).
func TestSidekickEnvDeliversToAllFive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five real servers")
	}
	// Webhook.
	hook := outputtest.NewRecorder(t)
	defer hook.Close()

	// Slack: record incoming-webhook posts.
	var slackMu sync.Mutex
	var slackMsgs []slack.WebhookMessage
	sl := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/services/", func(w http.ResponseWriter, r *http.Request) {
			var m slack.WebhookMessage
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
				return
			}
			slackMu.Lock()
			slackMsgs = append(slackMsgs, m)
			slackMu.Unlock()
			io.WriteString(w, "ok")
		})
	})
	sl.Start()
	defer sl.Stop()

	// Kafka.
	kc, err := kfake.NewCluster(kfake.AllowAutoTopicCreation(), kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()

	// Elasticsearch-compatible server and Loki-compatible server.
	zincURL, zincUser, zincPass := startZinc(t)
	vlBin := outputtest.BackendBinary(t, "victoria-logs")
	vlAddr := outputtest.FreeAddr(t)
	outputtest.StartProcess(t, "http://"+vlAddr+"/health", vlBin,
		"-storageDataPath="+t.TempDir(), "-httpListenAddr="+vlAddr, "-loggerLevel=WARN",
		"-retentionPeriod=100y", "-futureRetention=100y")

	_, httpPort, _ := net.SplitHostPort(outputtest.FreeAddr(t))
	env := map[string]string{
		"LISTENADDRESS":          "127.0.0.1",
		"LISTENPORT":             httpPort,
		"CUSTOMFIELDS":           "cluster:e2e",
		"WEBHOOK_ADDRESS":        hook.URL,
		"SLACK_WEBHOOKURL":       "http://" + sl.ServerAddr + "/services/T000/B000/secret",
		"SLACK_CHANNEL":          "#falco",
		"KAFKA_HOSTPORT":         kc.ListenAddrs()[0],
		"KAFKA_TOPIC":            "falco",
		"KAFKA_REQUIREDACKS":     "ALL",
		"ELASTICSEARCH_HOSTPORT": zincURL,
		"ELASTICSEARCH_USERNAME": zincUser,
		"ELASTICSEARCH_PASSWORD": zincPass,
		"ELASTICSEARCH_SUFFIX":   "none",
		"LOKI_HOSTPORT":          "http://" + vlAddr,
		"LOKI_ENDPOINT":          "/insert/loki/api/v1/push?_stream_fields=rule,priority,source,hostname",
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config from falcosidekick env: %v", err)
	}
	if len(cfg.Outputs) != 5 {
		t.Fatalf("outputs from env = %d, want 5", len(cfg.Outputs))
	}
	cfg.DataDir = t.TempDir()
	cfg.GRPC.Listen = "127.0.0.1:0"
	srv, err := New(cfg, Options{Logger: testLogger(t), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	const uuid = "5a0c7a4e-0d8c-4a3e-9b7e-4f1d2b3c4d5e"
	body := `{"uuid":"` + uuid + `","output":"10:00:00.123456789: Warning Sensitive file opened for reading (file=/etc/shadow)",` +
		`"priority":"Warning","rule":"Read sensitive file untrusted","time":"2026-11-22T10:00:00.123456789Z",` +
		`"output_fields":{"evt.type":"openat","fd.name":"/etc/shadow","proc.name":"cat","user.uid":0},` +
		`"source":"syscall","tags":["filesystem","mitre_credential_access"],"hostname":"node-1"}`
	resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST / = %d", resp.StatusCode)
	}

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not delivered within 30s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("webhook", func() bool {
		for _, b := range hook.Bodies() {
			if strings.Contains(b, uuid) && strings.Contains(b, `"cluster":"e2e"`) {
				return true
			}
		}
		return false
	})
	waitFor("slack", func() bool {
		slackMu.Lock()
		defer slackMu.Unlock()
		for _, m := range slackMsgs {
			if b, _ := json.Marshal(m); bytes.Contains(b, []byte("Read sensitive file untrusted")) && m.Channel == "#falco" {
				return true
			}
		}
		return false
	})

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.ListenAddrs(), Topic: "falco", GroupID: "e2e",
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	kctx, kcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer kcancel()
	msg, err := r.ReadMessage(kctx)
	if err != nil {
		t.Fatalf("kafka: %v", err)
	}
	if !bytes.Contains(msg.Value, []byte(uuid)) || string(msg.Key) != "node-1" {
		t.Errorf("kafka message key %q value %s", msg.Key, msg.Value)
	}

	waitFor("elasticsearch", func() bool {
		q := `{"query":{"match_all":{}},"size":10}`
		req, _ := http.NewRequest(http.MethodPost, zincURL+"/falco/_search", strings.NewReader(q))
		req.SetBasicAuth(zincUser, zincPass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && bytes.Contains(b, []byte(uuid))
	})
	waitFor("loki", func() bool {
		resp, err := http.PostForm("http://"+vlAddr+"/select/logsql/query",
			url.Values{"query": {`rule:"Read sensitive file untrusted"`}, "limit": {"10"}})
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return bytes.Contains(b, []byte("/etc/shadow"))
	})
}

// startZinc runs ZincSearch (the Elasticsearch-compatible test server) and
// returns its ES API base URL and credentials.
func startZinc(t *testing.T) (string, string, string) {
	t.Helper()
	bin := outputtest.BackendBinary(t, "zincsearch")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const user, pass = "admin", "e2e-Secret-1"
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ZINC_FIRST_ADMIN_USER="+user, "ZINC_FIRST_ADMIN_PASSWORD="+pass,
		"ZINC_DATA_PATH="+t.TempDir(), "ZINC_SERVER_ADDRESS=127.0.0.1", fmt.Sprintf("ZINC_SERVER_PORT=%d", port),
		"ZINC_TELEMETRY=false", "ZINC_SENTRY=false", "ZINC_PROMETHEUS_ENABLE=false", "GIN_MODE=release")
	logs := &outputtest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base + "/es", user, pass
			}
		}
		select {
		case <-exited:
			t.Fatalf("zincsearch exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zincsearch not ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
