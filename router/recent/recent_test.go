package recent

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
)

func mk(rule string, p alert.Priority, source, host, output string) *alert.Alert {
	return &alert.Alert{Rule: rule, Priority: p, Source: source, Hostname: host, Output: output,
		Time: time.Unix(1700000000, 0).UTC()}
}

func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	s := New(Config{Size: 10})
	now := time.Now()
	s.Add(mk("Read sensitive file untrusted", alert.PriorityWarning, "syscall", "node-1", "cat /etc/shadow"), []string{"slack", "kafka"}, now) // 1
	s.Add(mk("Terminal shell in container", alert.PriorityNotice, "syscall", "node-2", "bash -i"), []string{"kafka"}, now)                     // 2
	s.Add(mk("K8s secret read", alert.PriorityCritical, "k8s_audit", "node-1", "user=bob reads secret"), []string{"slack"}, now)               // 3
	s.Add(mk("Write below etc", alert.PriorityError, "syscall", "Node-1", "touch /etc/SHADOW.bak"), []string{}, now)                           // 4
	s.Add(mk("Debug rule", alert.PriorityDebug, "", "", "noise"), nil, now)                                                                    // 5
	s.Add(mk("Ünïcode rule", alert.PriorityInformational, "syscall", "node-3", "ÄÖÜ file=/tmp/x"), []string{"webhook"}, now)                   // 6

	tests := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"all newest first", Filter{}, []uint64{6, 5, 4, 3, 2, 1}},
		{"limit", Filter{Limit: 2}, []uint64{6, 5}},
		{"min priority", Filter{MinPriority: alert.PriorityWarning}, []uint64{4, 3, 1}},
		{"rule substring, any case", Filter{Rule: "SHELL"}, []uint64{2}},
		{"source exact", Filter{Source: "k8s_audit"}, []uint64{3}},
		{"source is not a substring match", Filter{Source: "sys"}, nil},
		{"hostname any case", Filter{Hostname: "node-1"}, []uint64{4, 3, 1}},
		{"output", Filter{Output: "kafka"}, []uint64{2, 1}},
		{"output exact only", Filter{Output: "slac"}, nil},
		{"text over output", Filter{Text: "shadow"}, []uint64{4, 1}},
		{"text over rule", Filter{Text: "secret READ"}, []uint64{3}},
		{"text non-ASCII", Filter{Text: "äöü"}, []uint64{6}},
		{"after", Filter{After: 4}, []uint64{6, 5}},
		{"after latest", Filter{After: 6}, nil},
		{"before", Filter{Before: 3}, []uint64{2, 1}},
		{"combined", Filter{MinPriority: alert.PriorityNotice, Source: "syscall", Output: "kafka", Text: "bash"}, []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Query(tt.f)
			got := seqs(res.Entries)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("seqs = %v, want %v", got, tt.want)
			}
			if res.Latest != 6 {
				t.Errorf("Latest = %d", res.Latest)
			}
			if res.Total != 6 || res.Counts[alert.PriorityWarning] != 1 || res.Counts[alert.PriorityEmergency] != 0 {
				t.Errorf("Total %d Counts %v", res.Total, res.Counts)
			}
		})
	}
	if res := s.Query(Filter{Limit: 1, MinPriority: alert.PriorityWarning}); res.Matched != 3 || len(res.Entries) != 1 {
		t.Errorf("Matched %d, entries %d; want 3, 1", res.Matched, len(res.Entries))
	}
	e := s.Query(Filter{Limit: 1}).Entries[0]
	if e.Alert.Rule != "Ünïcode rule" || fmt.Sprint(e.Outputs) != "[webhook]" || !e.Received.Equal(now) {
		t.Errorf("entry = %+v", e)
	}
}

func TestBounded(t *testing.T) {
	s := New(Config{Size: 5})
	if s.Cap() != 5 {
		t.Fatalf("Cap = %d", s.Cap())
	}
	for i := 0; i < 23; i++ {
		s.Add(mk(fmt.Sprint("r", i), alert.PriorityWarning, "", "", ""), nil, time.Now())
	}
	res := s.Query(Filter{})
	if got := fmt.Sprint(seqs(res.Entries)); got != "[23 22 21 20 19]" {
		t.Errorf("seqs = %s", got)
	}
	if res.Entries[0].Alert.Rule != "r22" || res.Entries[4].Alert.Rule != "r18" {
		t.Errorf("rules %q..%q", res.Entries[0].Alert.Rule, res.Entries[4].Alert.Rule)
	}
	if s.Latest() != 23 {
		t.Errorf("Latest() = %d", s.Latest())
	}
	if res.Total != 23 || res.Counts[alert.PriorityWarning] != 23 {
		t.Errorf("counts: total %d %v", res.Total, res.Counts)
	}
	// After older than the ring: only what is still there.
	if got := fmt.Sprint(seqs(s.Query(Filter{After: 2}).Entries)); got != "[23 22 21 20 19]" {
		t.Errorf("after 2: %s", got)
	}
	if got := fmt.Sprint(seqs(s.Query(Filter{After: 21}).Entries)); got != "[23 22]" {
		t.Errorf("after 21: %s", got)
	}
	if got := len(New(Config{}).ring); got != DefaultSize {
		t.Errorf("default size %d", got)
	}
	if res := New(Config{}).Query(Filter{}); len(res.Entries) != 0 || res.Latest != 0 || res.Total != 0 {
		t.Errorf("empty store: %+v", res)
	}
}

func TestSubscribe(t *testing.T) {
	s := New(Config{Size: 4})
	c1, stop1 := s.Subscribe()
	c2, stop2 := s.Subscribe()
	defer stop2()
	for i := 0; i < 10; i++ { // never blocks, signals coalesce
		s.Add(mk("r", alert.PriorityWarning, "", "", ""), nil, time.Now())
	}
	for _, c := range []<-chan struct{}{c1, c2} {
		select {
		case <-c:
		default:
			t.Fatal("no signal after Add")
		}
	}
	stop1()
	stop1() // idempotent
	s.Add(mk("r", alert.PriorityWarning, "", "", ""), nil, time.Now())
	select {
	case <-c1:
		t.Error("signal after stop")
	default:
	}
	select {
	case <-c2:
	default:
		t.Error("remaining subscriber not signalled")
	}
	stop2()
	if s.subs.Load() != nil {
		t.Error("subscribers left after every stop")
	}
}

// TestConcurrent runs writers, readers and subscribers at once; run with
// -race. Every reader's view must be consistent: newest first, no gaps in
// Seq, every entry's alert is the one added with that Seq.
func TestConcurrent(t *testing.T) {
	s := New(Config{Size: 64})
	const writers, perWriter = 4, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				s.Add(mk(fmt.Sprintf("w%d-%d", w, i), alert.Priority(1+i%8), "syscall", "", "x"), []string{"o"}, time.Now())
			}
		}()
	}
	var rwg sync.WaitGroup
	for r := 0; r < 2; r++ {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			c, unsub := s.Subscribe()
			defer unsub()
			var last uint64
			for {
				select {
				case <-stop:
					return
				case <-c:
				case <-time.After(time.Millisecond):
				}
				res := s.Query(Filter{After: last})
				for i, e := range res.Entries {
					if i > 0 && e.Seq != res.Entries[i-1].Seq-1 {
						t.Errorf("gap: %d after %d", e.Seq, res.Entries[i-1].Seq)
						return
					}
					if e.Alert == nil || e.Seq <= last {
						t.Errorf("bad entry %+v (last %d)", e, last)
						return
					}
				}
				if len(res.Entries) > 0 {
					last = res.Entries[0].Seq
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	res := s.Query(Filter{})
	if res.Total != writers*perWriter || res.Latest != writers*perWriter || len(res.Entries) != 64 {
		t.Errorf("total %d latest %d entries %d", res.Total, res.Latest, len(res.Entries))
	}
}

func TestContainsFold(t *testing.T) {
	tests := []struct {
		s, sub string
		want   bool
	}{
		{"Hello World", "world", true},
		{"Hello World", "", true},
		{"Hello", "hello!", false},
		{"abc", "bd", false},
		{"ÉCOLE", "école", true},
		{"x<IMG>", "<img>", true},
	}
	for _, tt := range tests {
		if got := containsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	s := New(Config{Size: 128})
	a := mk("r", alert.PriorityWarning, "syscall", "h", "o")
	outs := []string{"slack"}
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() { s.Add(a, outs, now) }); n != 0 {
		t.Errorf("Add allocates %.1f times per call", n)
	}
	_, stop := s.Subscribe()
	defer stop()
	if n := testing.AllocsPerRun(1000, func() { s.Add(a, outs, now) }); n != 0 {
		t.Errorf("Add with a subscriber allocates %.1f times per call", n)
	}
}

// BenchmarkAdd is the cost the ingest hot path pays per accepted alert.
func BenchmarkAdd(b *testing.B) {
	s := New(Config{})
	a := mk("Read sensitive file untrusted", alert.PriorityWarning, "syscall", "node-1", "o")
	outs := []string{"webhook"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Add(a, outs, now)
	}
}

// BenchmarkAddParallel: Add from every core at once (lock contention).
func BenchmarkAddParallel(b *testing.B) {
	s := New(Config{})
	a := mk("Read sensitive file untrusted", alert.PriorityWarning, "syscall", "node-1", "o")
	outs := []string{"webhook"}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Add(a, outs, now)
		}
	})
}

// BenchmarkAddClone is what Add would cost if ingest handed over alerts that
// alias reused buffers and the store had to copy them (it does not today:
// alert.Decode copies the document once). Kept to measure that choice.
func BenchmarkAddClone(b *testing.B) {
	s := New(Config{})
	a, err := alert.Decode([]byte(`{"uuid":"00000000-0000-4000-8000-000000000001","time":"2026-11-22T10:00:00Z","priority":"Warning",` +
		`"rule":"Read sensitive file untrusted","output":"10:00:00: Warning Sensitive file opened for reading file=/etc/shadow proc=cat",` +
		`"output_fields":{"evt.type":"openat","fd.name":"/etc/shadow","proc.name":"cat","proc.cmdline":"cat /etc/shadow","user.uid":0,"user.name":"root","container.id":"host"},` +
		`"source":"syscall","tags":["filesystem","mitre_credential_access"],"hostname":"node-1"}`))
	if err != nil {
		b.Fatal(err)
	}
	outs := []string{"webhook"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Add(deepCopy(a), outs, now)
	}
}

// deepCopy copies every string too, as a store would have to if alerts
// aliased pooled buffers.
func deepCopy(a *alert.Alert) *alert.Alert {
	c := a.Clone()
	c.UUID = strings.Clone(a.UUID)
	c.Rule = strings.Clone(a.Rule)
	c.Output = strings.Clone(a.Output)
	c.Source = strings.Clone(a.Source)
	c.Hostname = strings.Clone(a.Hostname)
	for i, t := range c.Tags {
		c.Tags[i] = strings.Clone(t)
	}
	for i, f := range c.OutputFields {
		v := f.Value
		switch v.Kind() {
		case alert.KindString:
			v = alert.StringValue(strings.Clone(v.String()))
		case alert.KindNumber:
			v, _ = alert.NumberValue(strings.Clone(v.String()))
		}
		c.OutputFields[i] = alert.Field{Key: strings.Clone(f.Key), Value: v}
	}
	return c
}

// BenchmarkQuery: one UI poll over a full ring of 1,000 with a text filter
// (the lock is held only for the copy of the ring).
func BenchmarkQuery(b *testing.B) {
	s := New(Config{})
	now := time.Now()
	for i := 0; i < DefaultSize; i++ {
		s.Add(mk(fmt.Sprint("Read sensitive file untrusted ", i), alert.Priority(1+i%8), "syscall", "node-1",
			"10:00:00: Warning Sensitive file opened for reading file=/etc/shadow proc=cat"), []string{"webhook"}, now)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res := s.Query(Filter{Text: "SHADOW", MinPriority: alert.PriorityWarning, Limit: 200}); len(res.Entries) != 200 {
			b.Fatal(len(res.Entries))
		}
	}
}
