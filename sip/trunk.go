package sip

import (
	"context"
	"time"

	gsip "github.com/emiago/sipgo/sip"
)

// healthLoop pings each trunk's outbound destination with OPTIONS every OptionsInterval
// (default 30s; 0 disables). A trunk that does not answer is down and skipped for
// outbound calls until it answers again. Any response, even an error, means up.
func (s *Server) healthLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, t := range s.routes.Load().trunks {
				if t.out == nil {
					continue
				}
				iv := 30 * time.Second
				if t.cfg.OptionsInterval != nil {
					iv = t.cfg.OptionsInterval.D()
				}
				if iv <= 0 {
					continue
				}
				if n, ok := next[t.cfg.Name]; ok && now.Before(n) {
					continue
				}
				next[t.cfg.Name] = now.Add(iv)
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.checkTrunk(ctx, t, iv)
				}()
			}
		}
	}
}

func (s *Server) checkTrunk(ctx context.Context, t *trunk, iv time.Duration) {
	timeout := min(iv, 5*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := gsip.NewRequest(gsip.OPTIONS, *t.out.Clone())
	req.SetTransport(t.transport)
	cli := s.udpClientFor(t.out.Host)
	if t.transport == "tcp" && s.tcpCli != nil {
		cli = s.tcpCli
	}
	if t.transport == "tls" && s.tlsCli != nil {
		cli = s.tlsCli
	}
	if cli == nil {
		return
	}
	up := false
	if res, err := cli.Do(ctx, req); err == nil && res != nil {
		up = true
	}
	if ctx.Err() != nil && !up && s.closing.Load() {
		return
	}
	was := t.health.up.Swap(up)
	t.health.checked.Store(time.Now().UnixNano())
	if was != up {
		s.log.Info("trunk health changed", "trunk", t.cfg.Name, "up", up)
	}
}
