package sip

import (
	"context"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// healthLoop probes each outbound destination of each trunk with OPTIONS every
// OptionsInterval (default 30s; 0 disables). A destination is down after options_down
// unanswered probes in a row and up again after options_up answered ones; any response,
// even an error status, is an answer. A trunk is down while all its destinations are, and
// then skipped for calls out (route.Decide). It also runs the registrations with carriers
// (trunkreg.go).
func (s *Server) healthLoop(ctx context.Context) {
	defer s.wg.Done()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.tregs.run(ctx)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := map[*trunkHealth]time.Time{}
	busy := map[*trunkHealth]bool{}
	done := make(chan *trunkHealth, 16)
	for {
		select {
		case <-ctx.Done():
			return
		case h := <-done:
			delete(busy, h)
		case now := <-tick.C:
			for _, t := range s.routes.Load().trunks {
				iv := 30 * time.Second
				if t.cfg.OptionsInterval != nil {
					iv = t.cfg.OptionsInterval.D()
				}
				if iv <= 0 {
					continue
				}
				for _, d := range t.dests {
					h := d.health
					if n, ok := next[h]; busy[h] || ok && now.Before(n) {
						continue
					}
					next[h] = now.Add(iv)
					busy[h] = true
					s.wg.Add(1)
					go func() {
						defer s.wg.Done()
						s.probe(ctx, t, d, iv)
						select {
						case done <- h:
						case <-ctx.Done():
						}
					}()
				}
			}
		}
	}
}

// probe sends one OPTIONS to a destination and applies the thresholds.
func (s *Server) probe(ctx context.Context, t *trunk, d *dest, iv time.Duration) {
	timeout := min(iv, 5*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := gsip.NewRequest(gsip.OPTIONS, *d.uri.Clone())
	req.SetTransport(t.transport)
	peer := d.uri.Host
	if !isTLS(t.transport) {
		hops, err := s.dns.resolve(ctx, d.uri.Host, d.uri.Port, t.transport)
		if err != nil || len(hops) == 0 {
			s.trunkm.dnsFailures.WithLabelValues(t.cfg.Name).Inc()
			s.probed(t, d, false)
			return
		}
		req.SetDestination(hops[0].addr)
		peer = hops[0].addr
	}
	cli := s.udpClientFor(peer)
	if t.transport == "tcp" && s.tcpCli != nil {
		cli = s.tcpCli
	}
	if t.transport == "tls" && s.tlsCli != nil {
		cli = s.tlsCli
	}
	if cli == nil {
		return
	}
	res, err := cli.Do(ctx, req)
	answered := err == nil && res != nil
	if !answered && s.closing.Load() {
		return
	}
	s.probed(t, d, answered)
}

// probed counts a probe's result and moves the destination up or down at the thresholds.
func (s *Server) probed(t *trunk, d *dest, answered bool) {
	h := d.health
	h.checked.Store(time.Now().UnixNano())
	downAt, upAt := int32(t.cfg.OptionsDown), int32(t.cfg.OptionsUp)
	if downAt < 1 {
		downAt = 3
	}
	if upAt < 1 {
		upAt = 2
	}
	if answered {
		s.trunkm.probes.WithLabelValues(t.cfg.Name, "answered").Inc()
		h.misses.Store(0)
		if h.answers.Add(1) >= upAt && !h.up.Swap(true) {
			s.log.Info("trunk destination up", "trunk", t.cfg.Name, "destination", d.uri.String(), "trunk_up", t.up())
		}
		return
	}
	s.trunkm.probes.WithLabelValues(t.cfg.Name, "missed").Inc()
	h.answers.Store(0)
	if h.misses.Add(1) >= downAt && h.up.Swap(false) {
		s.log.Warn("trunk destination down: OPTIONS unanswered", "trunk", t.cfg.Name, "destination", d.uri.String(),
			"misses", h.misses.Load(), "trunk_up", t.up())
	}
}
