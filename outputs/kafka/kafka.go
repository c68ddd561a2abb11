// Package kafka is the Kafka output: each alert becomes one record whose value
// is the alert in Falco's JSON shape, keyed (by default) by hostname so that a
// host's alerts stay in order, with priority, rule, source and uuid headers.
// A Send is one synchronous batched produce through segmentio/kafka-go; the
// router's queue owns retries, so kafka-go's own retries are turned off.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/internal/alertjson"
)

const (
	// linger is how long kafka-go waits for more records before sending a
	// partition's batch that is not full. A Send hands over its whole batch at
	// once, so a short linger only merges concurrent Sends.
	linger = time.Millisecond
	// maxRecordsPerRequest bounds one produce request per partition; larger
	// Sends are split by kafka-go.
	maxRecordsPerRequest = 2000
	// maxBatchBytes is Kafka's default message.max.bytes (1 MiB): a bigger
	// record is rejected before it is sent, as the broker would reject it.
	maxBatchBytes = 1 << 20
	// overheadPerRecord approximates the record framing kafka-go counts.
	overheadPerRecord = 64
)

// Header names on every record.
const (
	HeaderPriority = "priority"
	HeaderRule     = "rule"
	HeaderSource   = "source"
	HeaderUUID     = "uuid"
)

// OverrideTopic is the Message.Overrides key a route uses to send its alerts
// to another topic than the configured one (a literal topic name).
const OverrideTopic = "topic"

// Output writes alerts to Kafka.
type Output struct {
	w      *kafkago.Writer
	topic  *field
	key    *field
	redact *httpout.Redactor
}

var _ outputs.Output = (*Output)(nil)

// New builds the output from a config that passed Validate. It does not
// connect: the first Send does, so a broker that is down at startup delays
// delivery but does not stop the router.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	topic, _ := parseTemplate("topic", c.Topic)
	key, _ := parseTemplate("key", c.Key)
	bal, _ := balancer(c.Balancer)
	comp, _ := compression(c.Compression)
	acks, _ := requiredAcks(c.RequiredAcks)

	tr := &kafkago.Transport{
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		// MetadataTTL stays at kafka-go's 6 s: produce errors do not refresh
		// the cached layout, so a moved leader is picked up at the next refresh.
		ClientID: c.ClientID,
	}
	if c.TLS.Enabled {
		tc, err := c.TLS.Build()
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLS = tc
	}
	if c.SASL != "" {
		m, err := mechanism(c.SASL, c.Username, c.Password)
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		tr.SASL = m
	}
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(c.Brokers()...),
		Balancer:               bal,
		MaxAttempts:            1, // the queue retries, with backoff and dead letters
		BatchSize:              maxRecordsPerRequest,
		BatchBytes:             maxBatchBytes,
		BatchTimeout:           linger,
		ReadTimeout:            c.Timeout,
		WriteTimeout:           c.Timeout,
		RequiredAcks:           acks,
		Async:                  false,
		Compression:            comp,
		Transport:              tr,
		AllowAutoTopicCreation: c.TopicCreation,
	}
	if c.Async {
		log.Warn("kafka: async is ignored: Lanner waits for the broker so that no alert is lost; its queue keeps ingestion non-blocking")
	}
	if acks == kafkago.RequireNone {
		log.Info("kafka: requiredacks is NONE (falcosidekick's default): the broker does not confirm writes, so a broker failure can lose alerts; set ONE or ALL")
	}
	return &Output{
		w:      w,
		topic:  topic,
		key:    key,
		redact: httpout.NewRedactor(c.Password),
	}, nil
}

// Send writes the batch in one WriteMessages call and waits for the broker.
func (o *Output) Send(ctx context.Context, batch []outputs.Message) error {
	if len(batch) == 0 {
		return nil
	}
	msgs := make([]kafkago.Message, 0, len(batch))
	from := make([]int, 0, len(batch)) // msgs[j] is batch[from[j]]
	var failed map[int]error
	var sc scratch
	for i, m := range batch {
		km, err := o.record(m, &sc)
		if err != nil {
			if failed == nil {
				failed = make(map[int]error)
			}
			failed[i] = outputs.Permanent(err)
			continue
		}
		msgs = append(msgs, km)
		from = append(from, i)
	}
	if len(msgs) > 0 {
		err := o.w.WriteMessages(ctx, msgs...)
		var werrs kafkago.WriteErrors
		switch {
		case err == nil:
		case errors.As(err, &werrs) && len(werrs) == len(msgs):
			for j, e := range werrs {
				if e == nil {
					continue
				}
				if failed == nil {
					failed = make(map[int]error)
				}
				failed[from[j]] = o.classify(e)
			}
		default:
			// The call failed as a whole (metadata, connection, cancelled
			// context): the same answer for every record. Some may still
			// have reached the broker; delivery is at-least-once.
			if failed == nil {
				return o.classify(err)
			}
			ce := o.classify(err)
			for _, i := range from {
				failed[i] = ce
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == len(batch) {
		if e, same := sameError(failed); same {
			return e
		}
	}
	return &outputs.PartialError{Failed: failed}
}

// Close flushes nothing (writes are synchronous) and closes connections.
func (o *Output) Close() error {
	return o.w.Close()
}

// scratch is reused across the records of one Send.
type scratch struct {
	sb  strings.Builder
	enc alertjson.Encoder
	buf []byte // record values are carved out of it
}

// scratchChunk is the size of one buffer record values are carved from. A
// full buffer is replaced by a fresh one, never grown: growing would copy
// (and, for large buffers, zero) everything carved out before.
const scratchChunk = 256 << 10

// room makes sure about n more bytes fit in the current buffer.
func (sc *scratch) room(n int) {
	if cap(sc.buf)-len(sc.buf) < n {
		sc.buf = make([]byte, 0, max(scratchChunk, n))
	}
}

// valueSizeHint is about the size of a's JSON, without walking
// output_fields (this runs once per record): Falco's output text renders
// most field values, so twice its length plus a per-field allowance covers
// the usual alert. A larger value is still encoded correctly; its append
// grows a copy of the current chunk.
func valueSizeHint(a *alert.Alert) int {
	n := 160 + len(a.UUID) + len(a.Rule) + 2*len(a.Output) + len(a.Source) + len(a.Hostname) + 64*len(a.OutputFields)
	for _, t := range a.Tags {
		n += len(t) + 4
	}
	return n
}

// record builds the Kafka record for one alert.
func (o *Output) record(m outputs.Message, sc *scratch) (kafkago.Message, error) {
	sb := &sc.sb
	a := m.Alert
	if a == nil {
		return kafkago.Message{}, errors.New("kafka: message without alert")
	}
	topic := m.Overrides[OverrideTopic]
	if topic == "" {
		t, err := o.topic.render(a, sb)
		if err != nil {
			return kafkago.Message{}, fmt.Errorf("kafka: topic template: %w", err)
		}
		topic = t
	}
	if err := validTopic(topic); err != nil {
		return kafkago.Message{}, err
	}
	key, err := o.key.render(a, sb)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("kafka: key template: %w", err)
	}
	sc.room(valueSizeHint(a))
	start := len(sc.buf)
	sc.buf, err = sc.enc.Append(sc.buf, a)
	if err != nil {
		sc.buf = sc.buf[:start]
		return kafkago.Message{}, fmt.Errorf("kafka: encode alert: %w", err)
	}
	value := sc.buf[start:len(sc.buf):len(sc.buf)] // capped: later appends cannot touch it
	km := kafkago.Message{
		Topic: topic,
		Value: value,
		Headers: []kafkago.Header{
			{Key: HeaderPriority, Value: []byte(a.Priority.String())},
			{Key: HeaderRule, Value: []byte(a.Rule)},
			{Key: HeaderSource, Value: []byte(a.Source)},
			{Key: HeaderUUID, Value: []byte(a.UUID)},
		},
	}
	if key != "" {
		km.Key = []byte(key)
	}
	// The record timestamp stays the produce time (kafka-go's default): a
	// replayed dead letter carrying a week-old alert time could otherwise
	// fall straight out of a time-based retention window.
	size := len(km.Key) + len(km.Value) + overheadPerRecord
	for _, h := range km.Headers {
		size += len(h.Key) + len(h.Value)
	}
	if size > maxBatchBytes {
		return kafkago.Message{}, fmt.Errorf("kafka: record of %d bytes exceeds the %d-byte limit: %w", size, maxBatchBytes, kafkago.MessageSizeTooLarge)
	}
	return km, nil
}

// validTopic applies Kafka's topic name rules locally, so one bad rendered
// name fails only its own alert instead of the whole produce request.
func validTopic(t string) error {
	if t == "" {
		return errors.New("kafka: topic rendered empty")
	}
	if len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("kafka: invalid topic name %q", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("kafka: invalid topic name %q (allowed: letters, digits, '.', '_', '-')", t)
		}
	}
	return nil
}

// permanentCodes are broker answers that the same request will get again.
var permanentCodes = map[kafkago.Error]bool{
	kafkago.MessageSizeTooLarge:                true,
	kafkago.InvalidTopic:                       true,
	kafkago.RecordListTooLarge:                 true,
	kafkago.InvalidRequiredAcks:                true,
	kafkago.TopicAuthorizationFailed:           true,
	kafkago.ClusterAuthorizationFailed:         true,
	kafkago.TransactionalIDAuthorizationFailed: true,
	kafkago.SASLAuthenticationFailed:           true,
	kafkago.UnsupportedSASLMechanism:           true,
	kafkago.IllegalSASLState:                   true,
	kafkago.UnsupportedForMessageFormat:        true,
	kafkago.UnsupportedCompressionType:         true,
	kafkago.InvalidRecord:                      true,
	kafkago.PolicyViolation:                    true,
	kafkago.InvalidTimestamp:                   true,
}

// classify maps a kafka-go error to the queue's decision: listed broker
// codes are permanent; temporary codes, network errors, timeouts and
// everything unknown are retryable. Secrets are scrubbed from the text.
func (o *Output) classify(err error) error {
	var ke kafkago.Error
	if errors.As(err, &ke) && permanentCodes[ke] {
		return o.redact.Error(outputs.Permanent(fmt.Errorf("kafka: %w", err)))
	}
	return o.redact.Error(fmt.Errorf("kafka: %w", err))
}

func sameError(m map[int]error) (error, bool) {
	var first error
	for _, e := range m {
		if first == nil {
			first = e
			continue
		}
		if e != first {
			return nil, false
		}
	}
	return first, true
}

func mechanism(name, user, pass string) (sasl.Mechanism, error) {
	n, err := saslName(name)
	if err != nil {
		return nil, err
	}
	switch n {
	case "PLAIN":
		return plain.Mechanism{Username: user, Password: pass}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, user, pass)
	default:
		return scram.Mechanism(scram.SHA512, user, pass)
	}
}

func balancer(name string) (kafkago.Balancer, error) {
	switch strings.ToLower(strings.ReplaceAll(name, "-", "_")) {
	case "hash":
		return &kafkago.Hash{}, nil
	case "round_robin", "roundrobin":
		return &kafkago.RoundRobin{}, nil
	case "least_bytes", "leastbytes":
		return &kafkago.LeastBytes{}, nil
	case "murmur2":
		return kafkago.Murmur2Balancer{}, nil
	case "crc32":
		return kafkago.CRC32Balancer{}, nil
	}
	return nil, fmt.Errorf("balancer: unknown %q (want hash, round_robin, least_bytes, murmur2 or crc32)", name)
}

func compression(name string) (kafkago.Compression, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("compression: unknown %q (want none, gzip, snappy, lz4 or zstd)", name)
}

func requiredAcks(name string) (kafkago.RequiredAcks, error) {
	switch strings.ToUpper(name) {
	case "NONE", "0":
		return kafkago.RequireNone, nil
	case "ONE", "1":
		return kafkago.RequireOne, nil
	case "ALL", "-1":
		return kafkago.RequireAll, nil
	}
	return 0, fmt.Errorf("requiredacks: unknown %q (want NONE, ONE or ALL)", name)
}
