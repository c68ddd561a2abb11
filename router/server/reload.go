package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/route"
)

// reloadStopTimeout bounds how long a reload waits for a changed output's
// in-flight sends; after it they are cancelled and their alerts, still on
// disk, go to the new output.
const reloadStopTimeout = 10 * time.Second

// Reload re-reads the config file the router was started with (and the
// environment), then swaps in the new routes and custom fields atomically and
// restarts only the outputs whose settings changed. Queued alerts stay on
// disk throughout. If the new config is invalid, or an output cannot be
// built, nothing changes and the error says why.
func (s *Server) Reload() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if err != nil {
			s.reloads.WithLabelValues("error").Inc()
			s.reloadOK.Set(0)
		} else {
			s.reloads.WithLabelValues("ok").Inc()
			s.reloadOK.Set(1)
		}
	}()
	cfg, err := config.Load(s.cfg.File, s.opts.LookupEnv)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := s.checkOutputs(cfg); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	r, err := route.New(cfg, s.log.With("component", "route"), s.reg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	// Build every new or changed output before changing anything, so that a
	// failure leaves the running config untouched.
	fresh := map[string]*runningOutput{}
	for _, spec := range cfg.Outputs {
		if old := s.outs[spec.Name]; old != nil && old.fp == fingerprint(spec) {
			continue
		}
		ro, err := s.buildOutput(spec)
		if err != nil {
			for _, b := range fresh {
				_ = b.out.Close()
			}
			return fmt.Errorf("reload: %w", err)
		}
		fresh[spec.Name] = ro
	}
	for _, w := range cfg.Warnings {
		s.log.Warn("config: " + w)
	}
	s.warnRestartOnly(cfg)

	s.pipe.routing.Store(&routing{router: r, customFields: cfg.CustomFields})

	keep := map[string]bool{}
	for _, spec := range cfg.Outputs {
		keep[spec.Name] = fresh[spec.Name] == nil
	}
	var errs []error
	for name, old := range s.outs {
		if keep[name] {
			old.spec = specByName(cfg, name) // minimumpriority etc. for the API
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), reloadStopTimeout)
		if err := s.store.StopOutput(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("stop output %q: %w", name, err))
		}
		cancel()
		if err := old.out.Close(); err != nil {
			s.log.Warn("closing output", "output", name, "err", err)
		}
		delete(s.outs, name)
		if _, still := keep[name]; !still {
			if st := s.store.Stats(name); st.Depth > 0 {
				s.log.Warn("output removed from the config; its queued alerts stay on disk until it comes back",
					"output", name, "depth", st.Depth)
			}
		}
	}
	for name, ro := range fresh {
		if err := s.store.StartOutput(name, ro.out, queueOptions(ro.spec.Queue)); err != nil {
			_ = ro.out.Close()
			errs = append(errs, fmt.Errorf("start output %q: %w", name, err))
			continue
		}
		s.outs[name] = ro
	}
	// Listeners, auth and the data dir were bound at start; keep describing
	// them as they run.
	cfg.HTTP, cfg.GRPC, cfg.Ingest, cfg.DataDir, cfg.Dedup = s.cfg.HTTP, s.cfg.GRPC, s.cfg.Ingest, s.cfg.DataDir, s.cfg.Dedup
	cfg.UI = s.cfg.UI
	s.cfg = cfg
	s.log.Info("config reloaded", "outputs", len(cfg.Outputs), "restarted", len(fresh), "routes", len(cfg.Routes))
	return errors.Join(errs...)
}

func specByName(cfg *config.Config, name string) config.OutputSpec {
	for _, o := range cfg.Outputs {
		if o.Name == name {
			return o
		}
	}
	return config.OutputSpec{}
}

// warnRestartOnly logs the settings a reload cannot apply.
func (s *Server) warnRestartOnly(cfg *config.Config) {
	old := s.cfg
	changed := func(what string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			s.log.Warn("config reload: " + what + " changed; restart the router to apply it")
		}
	}
	changed("http", old.HTTP, cfg.HTTP)
	changed("grpc", old.GRPC, cfg.GRPC)
	changed("ingest.auth_token", old.Ingest.AuthToken, cfg.Ingest.AuthToken)
	changed("data_dir", old.DataDir, cfg.DataDir)
	changed("dedup", old.Dedup, cfg.Dedup)
	changed("ui", old.UI, cfg.UI)
}
