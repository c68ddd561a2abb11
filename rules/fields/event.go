package fields

import "net/netip"

// Dir is an event's direction: Falco's evt.dir, '>' on syscall entry and '<'
// on exit. Falco's rules match exit events, which carry the arguments and the
// result.
type Dir uint8

// Directions. The zero value is DirExit because that is what rules match.
const (
	DirExit Dir = iota
	DirEnter
)

// String returns "<" or ">", as evt.dir prints.
func (d Dir) String() string {
	if d == DirEnter {
		return ">"
	}
	return "<"
}

// Event is what the rules engine evaluates: one syscall (or meta) event with
// the state around it (process, fd, user, container). The agent's state
// implements it; package rules/synthetic implements it for tests.
//
// Each value method returns ok=false when the field has no value for this
// event (no fd, not a socket, no container...); every comparison with a
// missing value is false, != included. Only the methods that match a field's
// Type are called for it:
//
//	Str   TypeString, TypeBytes (bytes as a string, no copy needed)
//	Int   TypeInt64, TypeUint64 (bits of the uint64), TypePort, TypeRelTime, TypeAbsTime
//	Bool  TypeBool
//	IP    TypeIPAddr
//
// The engine answers evt.type, evt.dir and evt.source itself from Type and
// Dir, and never asks for filter-only fields (fd.ip, fd.net...), which it
// evaluates through the fields they stand for. Fields with List set are read
// with Arg{Index: i, Has: true} for i = ListFrom, ListFrom+1, ... until ok is
// false, when a rule uses them without an index.
//
// Implementations must not allocate in these methods: the engine's budget is
// zero allocations per event. A returned string need only stay valid until
// the next method call on the event: the engine keeps results of checks, not
// values, and the output formatter copies what it keeps. (So a string may
// view a buffer the event reuses for the next field.)
type Event interface {
	Type() EventType
	Dir() Dir
	Str(id ID, a Arg) (string, bool)
	Int(id ID, a Arg) (int64, bool)
	Bool(id ID, a Arg) (bool, bool)
	IP(id ID, a Arg) (netip.Addr, bool)
}
