package main

import (
	"context"
	"errors"
	"log/slog"
)

// runAgent is a placeholder until the capture pipeline exists; the agent
// engineer replaces this file.
func runAgent(ctx context.Context, args []string, logger *slog.Logger) error {
	return errors.New("capture is not built yet")
}
