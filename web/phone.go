package web

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"
)

// Phone is the browser phone (webphone.Gateway): its signalling rides the desktop's own
// WebSocket, as "phone.*" frames, so it shares the session cookie, the same-origin check and
// the session's end, and needs no second connection or credential.
type Phone interface {
	// Line opens the phone of one desktop connection of agent: handle takes each "phone.*"
	// frame the desktop sends and must not block; send writes a frame to the desktop;
	// closeLine ends the line's call and registration.
	Line(agent string, send func([]byte) error) (handle func([]byte), closeLine func())
}

// phoneFrames is how many phone frames may wait for the WebSocket writer.
const phoneFrames = 64

var errPhoneBacklog = errors.New("web: the desktop does not read its phone frames")

// phoneLine opens the agent's phone line on a desktop connection: frames from the phone go
// to out (written by agentWS's loop), frames from the desktop are read here until ctx ends.
// Without a Phone it only drains the desktop's frames (the connection stays one-way).
func (s *Server) phoneLine(ctx context.Context, c *websocket.Conn, agent string, out chan<- []byte) {
	var handle func([]byte)
	if p := s.opts.Phone; p != nil {
		send := func(b []byte) error {
			t := time.NewTimer(2 * time.Second)
			defer t.Stop()
			select {
			case out <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return errPhoneBacklog
			}
		}
		var closeLine func()
		handle, closeLine = p.Line(agent, send)
		defer closeLine()
	}
	c.SetReadLimit(64 << 10) // an SDP offer is a few kB
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if handle != nil {
			handle(b)
		}
	}
}
