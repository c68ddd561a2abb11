package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/queue"
	"github.com/lannerhq/lanner/router/recent"
	"github.com/lannerhq/lanner/router/route"
)

// routing is what a reload swaps in one piece: the routes and the custom
// fields, so that no alert sees half of an old config and half of a new one.
type routing struct {
	router       *route.Router
	customFields map[string]string
}

// pipeline implements ingest.Pipeline: enrich, route, enqueue.
type pipeline struct {
	store   *queue.Store
	routing atomic.Pointer[routing]
	// recent, when set, records every alert queued (or routed nowhere) for
	// the API and the web UI; duplicates and refused alerts are not.
	recent *recent.Store
}

var _ ingest.Pipeline = (*pipeline)(nil)

// Submit queues every alert for all its targets with one Enqueue call, so
// that a batch costs one fsync (shared with concurrent calls).
func (p *pipeline) Submit(ctx context.Context, alerts []*alert.Alert) ([]ingest.Result, error) {
	rt := p.routing.Load()
	now := time.Now()
	// first[i]..first[i+1] are the items of alert i.
	first := make([]int, len(alerts)+1)
	items := make([]queue.Item, 0, len(alerts))
	var tbuf []route.Target // reused: one alert's targets at a time
	for i, a := range alerts {
		first[i] = len(items)
		route.Enrich(a, rt.customFields)
		ts := rt.router.Targets(a, now, tbuf)
		if cap(ts) > cap(tbuf) {
			tbuf = ts
		}
		for _, t := range ts {
			items = append(items, queue.Item{Output: t.Output, Msg: outputs.Message{Alert: t.Alert, Overrides: t.Overrides}})
		}
	}
	first[len(alerts)] = len(items)
	var outcomes []queue.Outcome
	if len(items) > 0 {
		var err error
		if outcomes, err = p.store.Enqueue(ctx, items); err != nil {
			return nil, err
		}
	}
	res := make([]ingest.Result, len(alerts))
	var prevOutputs []string
	for i := range alerts {
		r := &res[i]
		its := items[first[i]:first[i+1]]
		if len(its) == 0 {
			r.Outputs = []string{}
			continue // routed nowhere (drop route, no outputs): nothing to do
		}
		dups := 0
		for j, it := range its {
			switch outcomes[first[i]+j] {
			case queue.Full:
				r.Full = append(r.Full, it.Output)
			case queue.Duplicate:
				dups++
			}
		}
		// Alerts of a batch mostly go to the same outputs: they share one
		// read-only slice instead of allocating one each.
		if len(r.Full) == 0 && sameOutputs(prevOutputs, its) {
			r.Outputs = prevOutputs
		} else {
			r.Outputs = make([]string, 0, len(its))
			for j, it := range its {
				if outcomes[first[i]+j] != queue.Full {
					r.Outputs = append(r.Outputs, it.Output)
				}
			}
			if len(r.Full) == 0 {
				prevOutputs = r.Outputs
			}
		}
		switch {
		case len(r.Full) > 0:
			r.Status = ingest.StatusFull
		case dups == len(its):
			r.Status = ingest.StatusDuplicate
		default:
			r.Status = ingest.StatusQueued
		}
	}
	if p.recent != nil {
		// Recorded only now that the queue accepted them. Kept by pointer:
		// nothing changes an alert after Submit, and Decode copies the
		// request's bytes, so no pooled buffer is aliased.
		for i, a := range alerts {
			if res[i].Status == ingest.StatusQueued {
				p.recent.Add(a, res[i].Outputs, now)
			}
		}
	}
	return res, nil
}

// sameOutputs reports whether outs names exactly the outputs of its, in order.
func sameOutputs(outs []string, its []queue.Item) bool {
	if outs == nil || len(outs) != len(its) {
		return false
	}
	for i, it := range its {
		if outs[i] != it.Output {
			return false
		}
	}
	return true
}
