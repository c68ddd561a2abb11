// Command lanner-agent captures syscalls with eBPF and evaluates Falco rules
// on them. Subcommands: run, validate, list-fields (see usage).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/lannerhq/lanner/rules/fields"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `lanner-agent: eBPF syscall capture and Falco-compatible detection.

Usage:
  lanner-agent run [-r FILE_OR_DIR]... [--stdout] [--router HOST:PORT]
        Capture syscalls and evaluate rules (needs root or CAP_BPF,
        CAP_PERFMON and CAP_SYS_RESOURCE). Without -r, the embedded default
        ruleset is used. Run "lanner-agent run --help" for every flag.
  lanner-agent validate [-r FILE_OR_DIR]...
        Load and compile rules files without capturing. Prints one line per
        problem as file:line:col: message; exits 1 if any rule has an error.
        Without -r, validates the embedded default ruleset.
  lanner-agent list-fields
        List every supported field with its type and description.
  lanner-agent --help | --version

Logs are JSON lines on stderr.
`

// exitError carries a process exit status out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr, logger)
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0] and returns the exit status.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "lanner-agent %s\n", version)
		return 0
	case "run":
		err = runAgent(ctx, args[1:], logger)
	case "validate":
		err = validate(args[1:], stdout, stderr, logger)
	case "list-fields":
		err = listFields(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "lanner-agent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	logger.Error("lanner-agent failed", "command", args[0], "err", err)
	return 1
}

// multiFlag collects a repeated string flag (-r a -r b).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func listFields(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list-fields", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError{2}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tDESCRIPTION")
	for _, f := range fields.All() {
		name := f.Name
		if f.Arg != fields.ArgNone {
			if f.ArgRequired {
				name += "[ARG]"
			} else {
				name += "[(ARG)]"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, f.Type, f.Desc)
	}
	return tw.Flush()
}
