package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
)

// pipelineServer serves each connection's requests itself once net/http has
// read the first (hijacking it), so that it sees requests that arrived
// together and can misbehave as servers do.
type pipelineServer struct {
	*httptest.Server
	behaviour

	processed sync.Map     // marker → *atomic.Int64: requests answered 2xx
	pipelined atomic.Int64 // requests already buffered when the one before them was answered
	conns     atomic.Int64
}

// behaviour is how a pipelineServer answers.
type behaviour struct {
	closeEvery    int  // after this many answers on a connection, close it; 0: never
	silentClose   bool // close without saying so in the last answer
	dropPipelined bool // discard bytes that arrived with a request, as a server reading once per request
	status        func(marker string) int
	bigAnswer     string        // this marker's answer carries a body too large to read past
	delay         time.Duration // before each answer
}

var markerRE = regexp.MustCompile(`lanner-conf-\d{5}`)

func newPipelineServer(t *testing.T, b behaviour) *pipelineServer {
	ps := &pipelineServer{behaviour: b}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" { // a redirect's target, served by net/http
			body, _ := io.ReadAll(r.Body)
			ps.count(string(body))
			return
		}
		body, _ := io.ReadAll(r.Body)
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		ps.conns.Add(1)
		ps.serve(c, rw.Reader, string(body))
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *pipelineServer) serve(c net.Conn, br *bufio.Reader, body string) {
	for n := 1; ; n++ {
		if ps.dropPipelined {
			_, _ = br.Discard(br.Buffered())
		} else if br.Buffered() > 0 {
			ps.pipelined.Add(1)
		}
		marker := markerRE.FindString(body)
		status := http.StatusOK
		if ps.status != nil {
			status = ps.status(marker)
		}
		closing := ps.closeEvery > 0 && n%ps.closeEvery == 0
		var answerBody string
		if marker != "" && marker == ps.bigAnswer {
			answerBody = strings.Repeat("x", 100<<10)
		}
		head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: %d\r\n", status, http.StatusText(status), len(answerBody))
		if status == http.StatusTemporaryRedirect {
			head += "Location: /moved\r\n"
		}
		if closing && !ps.silentClose {
			head += "Connection: close\r\n"
		}
		if status < 300 {
			ps.count(body)
		}
		time.Sleep(ps.delay)
		if _, err := io.WriteString(c, head+"\r\n"+answerBody); err != nil || closing {
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
}

func (ps *pipelineServer) count(body string) {
	n, _ := ps.processed.LoadOrStore(markerRE.FindString(body), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func (ps *pipelineServer) times(i int) int64 {
	n, ok := ps.processed.Load(outputtest.Marker(i))
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// Requests written together are answered in order: each alert gets its own
// answer's verdict, a redirect in the middle is followed, and a server
// closing the connection after announcing it (its keep-alive limit) has
// the requests it did not answer sent again at once, each alert processed
// once.
func TestPipelinedSend(t *testing.T) {
	const n = 120
	var redirected atomic.Bool
	tests := []struct {
		name string
		b    behaviour
		// want is alert i's expected result: "" delivered, "permanent",
		// "retryable".
		want func(i int) string
	}{
		{name: "all answered", want: func(int) string { return "" }},
		{
			name: "errors and a redirect in the middle",
			b: behaviour{status: func(m string) int {
				switch m {
				case outputtest.Marker(5):
					return http.StatusUnprocessableEntity
				case outputtest.Marker(7):
					return http.StatusServiceUnavailable
				case outputtest.Marker(9):
					if !redirected.Swap(true) { // net/http, following it, posts here again
						return http.StatusTemporaryRedirect
					}
				}
				return http.StatusOK
			}},
			want: func(i int) string {
				return map[int]string{5: "permanent", 7: "retryable"}[i]
			},
		},
		{name: "keep-alive limit", b: behaviour{closeEvery: 3}, want: func(int) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newPipelineServer(t, tt.b)
			o := newOutput(t, Config{Address: ps.URL, Concurrency: 2}, outputs.Deps{})
			o.depth.Store(8) // as after a healthy run
			err := o.Send(context.Background(), outputtest.Alerts(0, n))
			var failed map[int]error
			var pe *outputs.PartialError
			switch {
			case errors.As(err, &pe):
				failed = pe.Failed
			case err != nil:
				t.Fatalf("Send: %v", err)
			}
			for i := range n {
				var got string
				switch e := failed[i]; {
				case e == nil:
				case outputs.IsRetryable(e):
					got = "retryable"
				default:
					got = "permanent"
				}
				if got != tt.want(i) {
					t.Errorf("alert %d: %q (%v), want %q", i, got, failed[i], tt.want(i))
				}
				if want := int64(map[bool]int{true: 1}[got == ""]); ps.times(i) != want {
					t.Errorf("alert %d processed %d times, want %d", i, ps.times(i), want)
				}
			}
			if ps.pipelined.Load() == 0 {
				t.Error("no request arrived pipelined")
			}
			if tt.b.closeEvery > 0 {
				if c := ps.conns.Load(); c < n/int64(tt.b.closeEvery) {
					t.Errorf("%d connections, want at least %d", c, n/tt.b.closeEvery)
				}
			}
		})
	}
}

// net/http's own server (falcosidekick's, and most Go receivers') reads
// pipelined requests one after another: every alert arrives once.
func TestPipelinedToNetHTTP(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[markerRE.FindString(string(b))]++
		mu.Unlock()
	}))
	defer srv.Close()
	const n = 200
	o := newOutput(t, Config{Address: srv.URL, Concurrency: 3}, outputs.Deps{})
	o.depth.Store(8)
	if err := o.Send(context.Background(), outputtest.Alerts(0, n)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if seen[outputtest.Marker(i)] != 1 {
			t.Fatalf("alert %d arrived %d times", i, seen[outputtest.Marker(i)])
		}
	}
	if o.depth.Load() != 8 {
		t.Errorf("depth %d after a healthy batch, want 8", o.depth.Load())
	}
}

// sendPartial sends n alerts in pipelined runs of 8 on one connection and
// wants some of them to fail.
func sendPartial(t *testing.T, ps *pipelineServer, n int) (*Output, *outputs.PartialError) {
	t.Helper()
	o := newOutput(t, Config{Address: ps.URL, Concurrency: 1}, outputs.Deps{})
	o.depth.Store(8)
	err := o.Send(context.Background(), outputtest.Alerts(0, n))
	var pe *outputs.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Send: %v, want a partial error", err)
	}
	return o, pe
}

// An answer too large to read past (a 422 with 100 KiB of explanation)
// ends the connection: that alert gets its verdict, the ones written after
// it on the connection fail retryably, not with its verdict.
func TestPipelinedAnswerTooLarge(t *testing.T) {
	ps := newPipelineServer(t, behaviour{
		status: func(m string) int {
			if m == outputtest.Marker(3) {
				return http.StatusUnprocessableEntity
			}
			return http.StatusOK
		},
		bigAnswer: outputtest.Marker(3),
	})
	_, pe := sendPartial(t, ps, 8)
	for i := range 8 {
		e := pe.Failed[i]
		switch {
		case i < 3 && e != nil:
			t.Errorf("alert %d: %v, want delivered", i, e)
		case i == 3 && (e == nil || outputs.IsRetryable(e) || !strings.Contains(e.Error(), "422")):
			t.Errorf("alert 3: %v, want its 422", e)
		case i > 3 && (e == nil || !outputs.IsRetryable(e)):
			t.Errorf("alert %d: %v, want retryable", i, e)
		}
	}
}

// The timeout is per request: pipelined requests that a slow server
// answers one after another each get it from the answer before theirs.
func TestPipelinedTimeoutPerRequest(t *testing.T) {
	ps := newPipelineServer(t, behaviour{delay: 100 * time.Millisecond})
	o := newOutput(t, Config{Address: ps.URL, Concurrency: 1, Timeout: 250 * time.Millisecond}, outputs.Deps{})
	o.depth.Store(8)
	if err := o.Send(context.Background(), outputtest.Alerts(0, 5)); err != nil {
		t.Fatalf("5 answers 100 ms apart, each within the 250 ms timeout: %v", err)
	}
	if ps.pipelined.Load() == 0 {
		t.Error("no request arrived pipelined")
	}
}

// A server that closes after some answers without saying so: the requests
// it did not answer fail retryably (whether it processed them is unknown),
// and pipelining starts over at one request.
func TestPipelinedSilentClose(t *testing.T) {
	ps := newPipelineServer(t, behaviour{closeEvery: 3, silentClose: true})
	o, pe := sendPartial(t, ps, 40)
	for i := range 40 {
		e, failed := pe.Failed[i]
		if failed && !outputs.IsRetryable(e) {
			t.Errorf("alert %d: %v, want retryable", i, e)
		}
		if !failed && ps.times(i) != 1 {
			t.Errorf("alert %d delivered, but processed %d times", i, ps.times(i))
		}
	}
	if d := o.depth.Load(); d != 1 {
		t.Errorf("depth %d after a failure, want 1", d)
	}
}

// A server that loses requests arriving together with another (it reads
// once per request): the lost requests time out, and after maxStalls such
// runs in a row the output stops pipelining, says so once, and later
// batches are delivered.
func TestPipelinedRequestsLost(t *testing.T) {
	ps := newPipelineServer(t, behaviour{dropPipelined: true})
	logs := &outputtest.LogBuffer{}
	// Pipeline 2 keeps the two requests inside one read of the server.
	o := newOutput(t, Config{Address: ps.URL, Concurrency: 1, Pipeline: 2, Timeout: 200 * time.Millisecond},
		outputs.Deps{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for i := 0; o.depthMax.Load() > 1; i++ {
		if i == 2*maxStalls {
			t.Fatalf("pipelining still on after %d batches; log: %s", i, logs.String())
		}
		if err := o.Send(context.Background(), outputtest.Alerts(100*i, 3)); err == nil {
			t.Fatalf("batch %d delivered whole", i)
		}
	}
	if got := o.stalls.Load(); got != maxStalls || strings.Count(logs.String(), "pipeline: 1") != 1 {
		t.Fatalf("%d stalls; log: %s", got, logs.String())
	}
	if err := o.Send(context.Background(), outputtest.Alerts(1000, 6)); err != nil {
		t.Fatalf("Send after pipelining stopped: %v", err)
	}
}

// A slow answer now and then is not a lost request: a pipelined run
// delivered whole starts the count of stalls over.
func TestPipelineStallsReset(t *testing.T) {
	ps := newPipelineServer(t, behaviour{})
	o := newOutput(t, Config{Address: ps.URL, Concurrency: 1}, outputs.Deps{})
	o.stalls.Store(maxStalls - 1)
	o.depth.Store(4)
	if err := o.Send(context.Background(), outputtest.Alerts(0, 4)); err != nil {
		t.Fatal(err)
	}
	if got := o.stalls.Load(); got != 0 {
		t.Fatalf("%d stalls after a pipelined run delivered whole, want 0", got)
	}
}

// Pipelining ramps up from one request after the output starts and after
// a failure: a batch delivered whole doubles the depth up to the maximum.
func TestPipelineDepthRamp(t *testing.T) {
	ps := newPipelineServer(t, behaviour{})
	o := newOutput(t, Config{Address: ps.URL, Concurrency: 1, Pipeline: 4}, outputs.Deps{})
	if d := o.depth.Load(); d != 1 {
		t.Fatalf("initial depth %d, want 1", d)
	}
	if err := o.Send(context.Background(), outputtest.Alerts(0, 20)); err != nil {
		t.Fatal(err)
	}
	if d := o.depth.Load(); d != 4 {
		t.Fatalf("depth %d after a healthy batch, want 4", d)
	}
}
