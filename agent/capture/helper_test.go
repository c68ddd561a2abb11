package capture

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a helper process: with LANNER_CAPTURE_HELPER set
// it performs one action with raw syscalls and exits, so that the tests can
// watch a process of their own that is not the capturing one.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LANNER_CAPTURE_HELPER"); mode != "" {
		os.Exit(helperMain(mode, strings.Fields(os.Getenv("LANNER_CAPTURE_HELPER_ARGS"))))
	}
	os.Exit(m.Run())
}

func helperMain(mode string, args []string) int {
	if err := doHelper(mode, args); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

func doHelper(mode string, args []string) error {
	switch mode {
	case "ptrace-attach":
		runtime.LockOSThread()
		pid, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		if err := unix.PtraceAttach(pid); err != nil {
			return fmt.Errorf("attach: %w", err)
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		return unix.PtraceDetach(pid)
	case "traceme":
		if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0, 0, 0); errno != 0 {
			return errno
		}
		return nil
	case "memfd-exec":
		bin, err := os.ReadFile("/bin/true")
		if err != nil {
			return err
		}
		fd, err := unix.MemfdCreate(args[0], 0)
		if err != nil {
			return fmt.Errorf("memfd_create: %w", err)
		}
		if _, err := unix.Write(fd, bin); err != nil {
			return err
		}
		empty, _ := unix.BytePtrFromString("")
		arg0, _ := unix.BytePtrFromString(args[0])
		argv := []*byte{arg0, nil}
		envv := []*byte{nil}
		_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
		return fmt.Errorf("execveat: %w", errno)
	case "connect":
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		return c.Close()
	case "storm":
		// open/close in a loop for the given duration; prints the count.
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return err
		}
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); {
			for range 100 {
				fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
				if err != nil {
					return err
				}
				unix.Close(fd)
				n++
			}
		}
		fmt.Println(n)
		return nil
	case "openclose":
		// a fixed number of open/close pairs (benchmarks).
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		for range n {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		return nil
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}
