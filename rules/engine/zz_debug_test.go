package engine

import (
	"testing"

	"github.com/lannerhq/lanner/rules/fields"
)

func BenchmarkZZPerType(b *testing.B) {
	e := loadOfficial(b)
	evs := officialMix(e.Registry(), 4096)
	by := map[string][]fields.Event{}
	for _, ev := range evs {
		n := ev.Type().String()
		by[n] = append(by[n], ev)
	}
	for _, n := range []string{"openat", "close", "execve", "connect", "unlinkat", "clone"} {
		list := by[n]
		b.Run(n, func(b *testing.B) {
			v := e.NewEvaluator()
			var m []*Rule
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				m = v.EvalAll(list[i%len(list)], m[:0])
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
