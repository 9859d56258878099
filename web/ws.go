package web

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// agentWS streams the agent's events (offers, assignments, messages, state, screen pops) as
// JSON frames. Same-origin only (the session cookie rides on it); it closes when the session
// ends (logout, expiry, idle, the agent removed, their password changed). A desktop that reconnects
// reloads /api/me, so nothing depends on an event it missed while away.
func (s *Server) agentWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // default: Origin must match Host
	if err != nil {
		return
	}
	defer c.CloseNow()
	who := callerOf(r)
	agent := who.agent
	events, cancel := s.svc.Subscribe(agent)
	defer cancel()
	// The desktop's frames (the browser phone's signalling, web/phone.go) are read beside.
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	phone := make(chan []byte, phoneFrames)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer stop()
		s.phoneLine(ctx, c, agent, phone)
	}()
	defer func() { stop(); <-readDone }()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-who.sess.done:
			c.Close(websocket.StatusPolicyViolation, "session ended")
			return
		case ev, ok := <-events:
			if !ok {
				c.Close(websocket.StatusTryAgainLater, "too slow; reconnect")
				return
			}
			wctx, cancelW := context.WithTimeout(ctx, 10*time.Second)
			err := wsjson.Write(wctx, c, ev)
			cancelW()
			if err != nil {
				return
			}
		case b := <-phone:
			wctx, cancelW := context.WithTimeout(ctx, 10*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			cancelW()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, cancelP := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			cancelP()
			if err != nil {
				return
			}
			s.touch(who.sess) // an open desktop keeps its session in use
		}
	}
}
