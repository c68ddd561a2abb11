package alert

import (
	"fmt"
	"strings"
)

// Priority is Falco's alert severity. Values are ordered so that a more severe
// priority compares greater, which makes "at least" checks a plain >=.
type Priority int8

// The eight Falco levels, least to most severe. PriorityUnset is the zero value
// and means "no priority given".
const (
	PriorityUnset Priority = iota
	PriorityDebug
	PriorityInformational
	PriorityNotice
	PriorityWarning
	PriorityError
	PriorityCritical
	PriorityAlert
	PriorityEmergency
)

var priorityNames = [...]string{
	PriorityUnset:         "",
	PriorityDebug:         "Debug",
	PriorityInformational: "Informational",
	PriorityNotice:        "Notice",
	PriorityWarning:       "Warning",
	PriorityError:         "Error",
	PriorityCritical:      "Critical",
	PriorityAlert:         "Alert",
	PriorityEmergency:     "Emergency",
}

// Priorities lists the valid levels from most to least severe.
func Priorities() []Priority {
	return []Priority{PriorityEmergency, PriorityAlert, PriorityCritical, PriorityError, PriorityWarning, PriorityNotice, PriorityInformational, PriorityDebug}
}

// String returns Falco's spelling ("Warning", "Informational", ...).
func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int8(p))
	}
	return priorityNames[p]
}

// Valid reports whether p is one of the eight Falco levels.
func (p Priority) Valid() bool { return p >= PriorityDebug && p <= PriorityEmergency }

// ParsePriority accepts Falco's level names case-insensitively, plus "Info"
// (Falco's own short form) and "warn"/"err"/"crit"/"emerg" as syslog spells them.
func ParsePriority(s string) (Priority, error) {
	if p := exactPriority(s); p != PriorityUnset {
		return p, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "emergency", "emerg":
		return PriorityEmergency, nil
	case "alert":
		return PriorityAlert, nil
	case "critical", "crit":
		return PriorityCritical, nil
	case "error", "err":
		return PriorityError, nil
	case "warning", "warn":
		return PriorityWarning, nil
	case "notice":
		return PriorityNotice, nil
	case "informational", "info":
		return PriorityInformational, nil
	case "debug":
		return PriorityDebug, nil
	}
	return PriorityUnset, fmt.Errorf("unknown priority %q (want one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)", s)
}

// exactPriority maps Falco's own spellings, what every alert carries, to
// their level without ParsePriority's lower-casing allocation; anything else
// gives PriorityUnset.
func exactPriority(s string) Priority {
	for p := PriorityDebug; p <= PriorityEmergency; p++ {
		if priorityNames[p] == s {
			return p
		}
	}
	return PriorityUnset
}

// MarshalText writes Falco's spelling.
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("invalid priority %d", int8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses a priority name; see ParsePriority.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
