// Package fields is the registry of the fields Lanner's rule language knows
// (Falco's syscall fields), the event-type table, and the Event interface that
// the agent's state and the synthetic test event implement.
//
// The compiler resolves every field reference once into an ID and an Arg, so
// the hot path reads values with ev.Str(id, arg) and friends: no string
// lookups and no allocation per event.
package fields

import "strings"

// Type is the value type of a field, following libsinsp's parameter types.
type Type uint8

// Field types.
const (
	TypeInvalid Type = iota
	// TypeString is text (libsinsp CHARBUF, FSPATH).
	TypeString
	// TypeBytes is a raw buffer (BYTEBUF); compared byte-wise.
	TypeBytes
	// TypeInt64 is a signed integer (INT64, INT32, ERRNO, FD, PID).
	TypeInt64
	// TypeUint64 is an unsigned integer (UINT64, UINT32).
	TypeUint64
	// TypePort is a TCP/UDP port number.
	TypePort
	// TypeRelTime is a duration in nanoseconds.
	TypeRelTime
	// TypeAbsTime is a Unix timestamp in nanoseconds.
	TypeAbsTime
	// TypeBool is a boolean, compared with true/false.
	TypeBool
	// TypeIPAddr is an IPv4 or IPv6 address.
	TypeIPAddr
	// TypeIPNet is a filter-only field: an address compared against networks
	// (CIDR) on the right side.
	TypeIPNet
)

var typeNames = [...]string{
	TypeInvalid: "INVALID",
	TypeString:  "CHARBUF",
	TypeBytes:   "BYTEBUF",
	TypeInt64:   "INT64",
	TypeUint64:  "UINT64",
	TypePort:    "PORT",
	TypeRelTime: "RELTIME",
	TypeAbsTime: "ABSTIME",
	TypeBool:    "BOOL",
	TypeIPAddr:  "IPADDR",
	TypeIPNet:   "IPNET",
}

// String returns the type's name as Falco's field listing prints it.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return typeNames[TypeInvalid]
}

// IsNumeric reports whether values of t are integers (read with Event.Int).
func (t Type) IsNumeric() bool {
	switch t {
	case TypeInt64, TypeUint64, TypePort, TypeRelTime, TypeAbsTime:
		return true
	}
	return false
}

// IsString reports whether values of t are read with Event.Str.
func (t Type) IsString() bool { return t == TypeString || t == TypeBytes }

// IsUnsigned reports whether Int's bits are to be compared as uint64.
func (t Type) IsUnsigned() bool {
	switch t {
	case TypeUint64, TypePort, TypeRelTime, TypeAbsTime:
		return true
	}
	return false
}

// ArgKind says whether and how a field takes an argument.
type ArgKind uint8

// Argument kinds.
const (
	// ArgNone: the field takes no argument.
	ArgNone ArgKind = iota
	// ArgIndex: a non-negative number, as in proc.aname[2].
	ArgIndex
	// ArgKey: a name, as in proc.env[HOME] or evt.arg.flags.
	ArgKey
	// ArgIndexOrKey: either, as in evt.arg[0] and evt.arg.flags.
	ArgIndexOrKey
)

// Field describes one field of the rule language.
type Field struct {
	ID   ID
	Name string
	Type Type
	Desc string
	// Arg says whether the field takes an argument; ArgRequired whether it
	// must have one.
	Arg         ArgKind
	ArgRequired bool
	// DotArg: the argument may also be written after a dot (evt.arg.flags).
	DotArg bool
	// List: without an index the field has several values and a comparison
	// is true when any value satisfies it (proc.aname matches any ancestor).
	// ListFrom is the first index iterated (1 for ancestors: the parent).
	List     bool
	ListFrom int
	// AnyOf: a filter-only field that matches when any of the named fields
	// does (fd.ip is fd.cip or fd.sip). Events never see these IDs.
	AnyOf []string
	// FilterOnly: the field cannot be printed in outputs (Falco marks these
	// "FILTER ONLY"); Lanner prints the first AnyOf value that is present.
	FilterOnly bool
}

// Arg is a field's parsed argument. Has is false when the field was written
// without one. Index is set when the argument is a number.
type Arg struct {
	Key   string
	Index int
	Has   bool
}

// String renders the argument as written in brackets ("" when absent).
func (a Arg) String() string {
	if !a.Has {
		return ""
	}
	return "[" + a.Key + "]"
}

// Canonical returns the field's name with its argument the way Falco prints
// it in output_fields: proc.aname[2], evt.arg.flags, proc.env[HOME].
func (f *Field) Canonical(a Arg) string {
	if !a.Has {
		return f.Name
	}
	if f.DotArg && isIdentLike(a.Key) {
		return f.Name + "." + a.Key
	}
	return f.Name + "[" + a.Key + "]"
}

func isIdentLike(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	// a pure number was written as evt.arg[0]
	return strings.TrimLeft(s, "0123456789") != ""
}
