//go:build !linux

package ingest

import "net"

// FastListener returns ln: the fast path needs epoll, and net/http serves
// every request elsewhere.
func (h *HTTP) FastListener(ln net.Listener, _ FastConfig) net.Listener { return ln }
