package route

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
)

// matcher is one condition of a route; all of a route's matchers must hold.
type matcher interface {
	match(a *alert.Alert) bool
	// describe says what the matcher requires, for traces.
	describe() string
}

type priorityMatcher struct {
	min, max alert.Priority
	desc     string
}

func (m *priorityMatcher) match(a *alert.Alert) bool {
	return a.Priority >= m.min && a.Priority <= m.max
}
func (m *priorityMatcher) describe() string { return m.desc }

// strMatch tests one string with equals, glob or an anchored regex.
type strMatch struct {
	op    string
	value string
	glob  config.Glob
	re    *regexp.Regexp
}

func newStrMatch(sm config.StringMatch) (strMatch, error) {
	m := strMatch{op: sm.Op, value: sm.Value}
	var err error
	switch sm.Op {
	case config.OpGlob:
		m.glob, err = config.CompileGlob(sm.Value)
	case config.OpRegex:
		m.re, err = config.CompileRegex(sm.Value)
	}
	return m, err
}

func (m *strMatch) match(s string) bool {
	switch m.op {
	case config.OpEquals:
		return s == m.value
	case config.OpGlob:
		return m.glob.Match(s)
	case config.OpRegex:
		return m.re.MatchString(s)
	}
	return true // exists: presence was checked by the caller
}

func (m *strMatch) String() string {
	if m.op == config.OpExists {
		return "exists"
	}
	return fmt.Sprintf("%s %q", m.op, m.value)
}

// attrMatcher tests rule, source or hostname.
type attrMatcher struct {
	attr string
	strMatch
}

func (m *attrMatcher) match(a *alert.Alert) bool {
	switch m.attr {
	case "rule":
		return m.strMatch.match(a.Rule)
	case "source":
		return m.strMatch.match(a.Source)
	default:
		return m.strMatch.match(a.Hostname)
	}
}

func (m *attrMatcher) describe() string { return m.attr + " " + m.strMatch.String() }

type fieldMatcher struct {
	key string
	strMatch
}

func (m *fieldMatcher) match(a *alert.Alert) bool {
	v, ok := a.OutputFields.Get(m.key)
	if !ok {
		return false
	}
	if m.op == config.OpExists {
		return true
	}
	return m.strMatch.match(v.String())
}

func (m *fieldMatcher) describe() string {
	return fmt.Sprintf("output_fields[%q] %s", m.key, m.strMatch.String())
}

type tagsMatcher struct {
	anyOf, allOf, noneOf []string
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func (m *tagsMatcher) match(a *alert.Alert) bool {
	for _, t := range m.allOf {
		if !hasTag(a.Tags, t) {
			return false
		}
	}
	for _, t := range m.noneOf {
		if hasTag(a.Tags, t) {
			return false
		}
	}
	if len(m.anyOf) == 0 {
		return true
	}
	for _, t := range m.anyOf {
		if hasTag(a.Tags, t) {
			return true
		}
	}
	return false
}

func (m *tagsMatcher) describe() string {
	var parts []string
	if len(m.anyOf) > 0 {
		parts = append(parts, "any_of "+strings.Join(m.anyOf, ","))
	}
	if len(m.allOf) > 0 {
		parts = append(parts, "all_of "+strings.Join(m.allOf, ","))
	}
	if len(m.noneOf) > 0 {
		parts = append(parts, "none_of "+strings.Join(m.noneOf, ","))
	}
	return "tags " + strings.Join(parts, " ")
}

// compileMatch turns a config.Match into matchers, cheapest first so that a
// failing route is rejected early.
func compileMatch(m config.Match) ([]matcher, error) {
	var out []matcher
	if p := m.Priority; p != nil {
		pm := &priorityMatcher{min: alert.PriorityDebug, max: alert.PriorityEmergency}
		switch {
		case p.Exactly != 0:
			pm.min, pm.max = p.Exactly, p.Exactly
			pm.desc = "priority exactly " + p.Exactly.String()
		default:
			var d []string
			if p.AtLeast != 0 {
				pm.min = p.AtLeast
				d = append(d, "at_least "+p.AtLeast.String())
			}
			if p.AtMost != 0 {
				pm.max = p.AtMost
				d = append(d, "at_most "+p.AtMost.String())
			}
			pm.desc = "priority " + strings.Join(d, " ")
		}
		out = append(out, pm)
	}
	var slow []matcher // regexes go last
	for _, am := range []struct {
		attr string
		sm   *config.StringMatch
	}{{"source", m.Source}, {"hostname", m.Hostname}, {"rule", m.Rule}} {
		if am.sm == nil {
			continue
		}
		sm, err := newStrMatch(*am.sm)
		if err != nil {
			return nil, fmt.Errorf("match.%s: %w", am.attr, err)
		}
		mm := &attrMatcher{attr: am.attr, strMatch: sm}
		if sm.op == config.OpRegex {
			slow = append(slow, mm)
		} else {
			out = append(out, mm)
		}
	}
	if t := m.Tags; t != nil {
		out = append(out, &tagsMatcher{anyOf: t.AnyOf, allOf: t.AllOf, noneOf: t.NoneOf})
	}
	for _, fm := range m.OutputFields {
		sm, err := newStrMatch(fm.StringMatch)
		if err != nil {
			return nil, fmt.Errorf("match.output_fields[%q]: %w", fm.Key, err)
		}
		mm := &fieldMatcher{key: fm.Key, strMatch: sm}
		if sm.op == config.OpRegex {
			slow = append(slow, mm)
		} else {
			out = append(out, mm)
		}
	}
	return append(out, slow...), nil
}
