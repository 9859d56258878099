package sip

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip/limit"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// The abuse limits' seams in the B2BUA (see sip/limit):
//   - readFilter is sipgo's transport read filter: the flood limit, before parsing;
//   - onInvite opens a callHold once routing decided (sip/route), takes the outbound trunk's
//     slot while going through the decision's trunks (placeOut), calls admit once the call is
//     routed, and binds the hold to the call; call.end releases it, call.answered starts its
//     minutes;
//   - emergency numbers are decided by route.Decide before the outbound right is checked;
//   - Dial takes the rung extension's slot.

// WithLimits plugs the abuse limits (default: built from the config, with the Server's store
// for daily minutes and no metrics registry). The Server runs it (Limits.Run) while it runs.
func WithLimits(l *limit.Limits) Option { return func(s *Server) { s.lim = l } }

// Limits returns the abuse limits in force.
func (s *Server) Limits() *limit.Limits { return s.lim }

func (s *Server) initLimits(cfg *config.Config, log *slog.Logger) error {
	if s.lim != nil {
		return nil
	}
	var st limit.UsageStore
	if s.st != nil {
		st = s.st
	}
	l, err := limit.New(cfg, limit.Options{Store: st, Logger: log, Registerer: s.opt.reg})
	if err != nil {
		return err
	}
	s.lim = l
	return nil
}

// runLimits runs the limits' clock (minutes, sweeps) until ctx ends.
func (s *Server) runLimits(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.lim.Run(ctx)
	}()
}

// readFilter drops the messages of a flooding source before sipgo parses them (no goroutine,
// no transaction); the datagrams it admits go on through the read path (inspectDatagram). On a stream the connection is closed instead: a stream cannot skip a
// message unparsed.
func (s *Server) readFilter(p gsip.TransportReadProps, data []byte) ([]byte, error) {
	stream := p.Transport != "udp" && p.Transport != "UDP"
	if s.lim.AdmitMessage(p.RemoteAddr, data, stream) {
		return s.inspectDatagram(p, data)
	}
	if stream {
		return nil, limit.ErrFlood
	}
	return nil, nil
}

// quietFlood drops sipgo's "Read filter error" line for connections closed by the flood
// limit, which counts and logs them itself (once per source per minute).
type quietFlood struct{ slog.Handler }

func (q quietFlood) Handle(ctx context.Context, r slog.Record) error {
	flood := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, limit.ErrFlood) {
			flood = true
			return false
		}
		return true
	})
	if flood {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietFlood) WithAttrs(a []slog.Attr) slog.Handler {
	return quietFlood{q.Handler.WithAttrs(a)}
}

func (q quietFlood) WithGroup(g string) slog.Handler { return quietFlood{q.Handler.WithGroup(g)} }

// callHold is a call's limit.Hold and the call it ends when its extension's daily minutes run
// out (set once the call exists).
type callHold struct {
	*limit.Hold
	c atomic.Pointer[call]
}

func (s *Server) newHold() *callHold {
	h := &callHold{}
	h.Hold = s.lim.Hold(func() {
		if c := h.c.Load(); c != nil {
			c.stop("daily-minutes")
		}
	})
	return h
}

// bind makes c the hold's call: c.end releases it.
func (h *callHold) bind(c *call) {
	c.mu.Lock()
	c.hold = h.Hold
	c.mu.Unlock()
	h.c.Store(c)
}

// admit applies the per-call limits once a call is routed: the caller's (an extension; none
// for an emergency call), the inbound trunk's, the rung extension's. The outbound trunk's slot
// was taken while choosing it.
func (s *Server) admit(h *callHold, from origin, dialled, ext string, out *trunk, emergency bool) *limit.Refusal {
	if from.user != nil && !emergency {
		if r := h.Caller(from.user.Extension, dialled, out != nil); r != nil {
			return r
		}
	}
	if from.trunk != nil && !h.Trunk(from.trunk.cfg.Name) {
		return limit.TrunkFull()
	}
	if ext != "" {
		if r := h.Callee(ext); r != nil {
			return r
		}
	}
	return nil
}

// refusalHeaders are the extra headers of a limit's refusal (Retry-After on a 503).
func refusalHeaders(r *limit.Refusal) []gsip.Header {
	if r == nil || r.RetryAfter <= 0 {
		return nil
	}
	return []gsip.Header{gsip.NewHeader("Retry-After", limit.RetryAfter(r.RetryAfter))}
}

// ExemptSource exempts a source of ccswitch's own from the per-source flood limit (the
// browser phones' SIP socket: one address for every browser phone).
func (s *Server) ExemptSource(ap netip.AddrPort) { s.lim.ExemptSource(ap) }
