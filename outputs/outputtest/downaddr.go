package outputtest

import (
	"fmt"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// downAddr reserves a loopback port that refuses connections until listen
// is called. The socket is bound but not listening, so a connection gets a
// reset, and no other process can take the port meanwhile. A port that was
// merely closed could be taken, and once was, by a parallel test package
// before the test listened on it again ("address already in use").
func downAddr(tb testing.TB) (addr string, listen func() (net.Listener, error)) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "reserved port")
	tb.Cleanup(func() { _ = f.Close() }) // net.FileListener keeps its own copy
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
	return fmt.Sprintf("127.0.0.1:%d", in4.Port), func() (net.Listener, error) {
		if err := unix.Listen(fd, 128); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		return net.FileListener(f)
	}
}
