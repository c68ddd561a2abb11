package outputtest

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// HeldPort reserves a loopback port for a destination that goes down and
// comes back. A socket bound to it with SO_REUSEPORT stays bound, never
// listening, for the test's life: while no listener is up a connection is
// refused, and no other process can take the port (none of the others sets
// SO_REUSEPORT). A port that was merely closed could be taken, and once
// was, by a parallel test package before the test listened on it again
// ("address already in use"). listen (net.Listen's signature, for
// kfake.ListenFn too) opens a listener sharing the port; close it to take
// the destination down again.
func HeldPort(tb testing.TB) (port int, listen func(network, address string) (net.Listener, error)) {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		tb.Fatalf("bound to %T", sa)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return in4.Port, func(network, address string) (net.Listener, error) {
		return lc.Listen(context.Background(), network, address)
	}
}

// downAddr is HeldPort as an address and a listen on it.
func downAddr(tb testing.TB) (addr string, listen func() (net.Listener, error)) {
	port, listenOn := HeldPort(tb)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	return addr, func() (net.Listener, error) { return listenOn("tcp", addr) }
}
