package agent

import (
	"log/slog"
	"testing"

	"github.com/lannerhq/lanner/agent/capture"
)

type slogLogger = slog.Logger

// newTestLogger routes the agent's logs to the test log.
func newTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func captureCounters(seen, dropped uint64) capture.Counters {
	return capture.Counters{Seen: seen, DropRingFull: dropped}
}
