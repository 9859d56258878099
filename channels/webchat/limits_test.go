package webchat_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/webchat"
)

// limited serves the widget with lim; the client address is the peer's, or, for the tests
// that stand for many hosts, the X-Test-Client header (as a trusted proxy would give it).
func limited(t *testing.T, lim channels.WebChatLimits, byHeader bool) (*chantest.Env, string) {
	t.Helper()
	env := chantest.New(t, channels.Config{})
	key, _ := env.Store.Secret("webchat", 32)
	a := webchat.New(channels.WebChat{Limits: lim}, env.Service, key, nil)
	env.Service.AddAdapter(a)
	if byHeader {
		a.SetClientAddr(func(r *http.Request) netip.Addr {
			ad, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
			return ad
		})
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return env, srv.URL
}

// TestNewConversationsPerAddress (invariant 2): with the defaults one address starts at most
// 10 conversations a minute; an IPv6 address counts by its /64; another address, and a
// visitor writing in the conversation they have, are not held back.
func TestNewConversationsPerAddress(t *testing.T) {
	env, url := limited(t, channels.WebChatLimits{}, true)
	chat := func(client string, hello map[string]any) (map[string]any, map[string]any) {
		t.Helper()
		ws, code := rawDial(t, url, map[string]string{"X-Test-Client": client})
		if ws == nil {
			t.Fatalf("%s: upgrade refused with %d", client, code)
		}
		defer ws.conn.Close()
		hello["t"] = "hello"
		ws.send(hello)
		welcome := ws.next()
		ws.send(map[string]any{"t": "msg", "cid": "c1", "text": "hello"})
		for {
			if f := ws.next(); f["t"] != "msg" { // the history of a returning visitor first
				return welcome, f
			}
		}
	}
	var first map[string]any
	for i := range 10 {
		w, f := chat("2001:db8::"+strconv.Itoa(i+1), map[string]any{})
		if f["t"] != "ack" {
			t.Fatalf("conversation %d: %v", i+1, f)
		}
		if i == 0 {
			first = w
		}
	}
	if _, f := chat("2001:db8::ff", map[string]any{}); f["t"] != "error" || !strings.Contains(f["error"].(string), "too many new chats") {
		t.Fatalf("11th conversation from the same /64: %v", f)
	}
	for _, other := range []string{"2001:db8:0:1::1", "192.0.2.7"} {
		if _, f := chat(other, map[string]any{}); f["t"] != "ack" {
			t.Fatalf("a first conversation from %s: %v", other, f)
		}
	}
	// The first visitor comes back to their open conversation: not a new one.
	if _, f := chat("2001:db8::1", map[string]any{"visitor": first["visitor"], "token": first["token"]}); f["t"] != "ack" {
		t.Fatalf("a message in an open conversation: %v", f)
	}
	if convs, _ := env.Store.Conversations(""); len(convs) != 12 {
		t.Fatalf("%d conversations, want 12", len(convs))
	}
	if n := env.Refused("webchat", "conversations"); n != 1 {
		t.Fatalf("refused conversations counted %d, want 1", n)
	}
}

// TestConnectionsPerAddress (invariant 2): one address opens at most limits.connections
// sockets; the next upgrade gets 429, another address still connects.
func TestConnectionsPerAddress(t *testing.T) {
	env, url := limited(t, channels.WebChatLimits{Connections: 3}, true)
	for i := range 3 {
		ws, code := rawDial(t, url, map[string]string{"X-Test-Client": "198.51.100.9"})
		if ws == nil {
			t.Fatalf("socket %d refused with %d", i+1, code)
		}
		ws.send(map[string]any{"t": "hello"})
		ws.next()
	}
	if ws, code := rawDial(t, url, map[string]string{"X-Test-Client": "198.51.100.9"}); ws != nil || code != http.StatusTooManyRequests {
		t.Fatalf("4th socket: %d, want 429", code)
	}
	if ws, code := rawDial(t, url, map[string]string{"X-Test-Client": "198.51.100.10"}); ws == nil {
		t.Fatalf("another address: %d", code)
	}
	if n := env.Refused("webchat", "connections"); n != 1 {
		t.Fatalf("refused connections counted %d, want 1", n)
	}
}

// TestFrameFloodIsBounded (invariant 2): a socket that floods frames gets at most the burst
// stored (each a synced commit), errors for the next ones, then is closed; junk frames count
// too.
func TestFrameFloodIsBounded(t *testing.T) {
	for _, junk := range []bool{false, true} {
		t.Run(map[bool]string{false: "messages", true: "junk frames"}[junk], func(t *testing.T) {
			env, url := limited(t, channels.WebChatLimits{MessagesPerMinute: 1, MessagesBurst: 5}, false)
			ws, _ := rawDial(t, url, nil)
			ws.send(map[string]any{"t": "hello"})
			ws.next()
			start := time.Now()
			go func() {
				for i := range 500 {
					f := map[string]any{"t": "msg", "cid": "c" + strconv.Itoa(i), "text": "flood"}
					if junk {
						f = map[string]any{"t": "junk"}
					}
					b, _ := jsonBytes(f)
					if ws.writeFrame(0x1, b) != nil {
						return // closed by the server
					}
				}
			}()
			acks, errs := 0, 0
			for {
				op, p, err := ws.readFrame()
				if err != nil || op == 0x8 {
					if op != 0x8 || !strings.Contains(closeOf(p), "1008 too many messages") {
						t.Fatalf("ended with %v %q, want a 1008 close", err, closeOf(p))
					}
					break
				}
				switch {
				case strings.Contains(string(p), `"t":"ack"`):
					acks++
				case strings.Contains(string(p), `"t":"error"`):
					errs++
				}
			}
			// The burst of 5 less the hello's token, and what a minute refills.
			allowed := 4 + int(time.Since(start)/time.Minute) + 1
			if junk {
				allowed = 0
			}
			if acks > allowed || (!junk && acks < 4) {
				t.Fatalf("%d frames acknowledged, want the burst of 5 less the hello", acks)
			}
			convs, _ := env.Store.Conversations("")
			stored := 0
			for _, c := range convs {
				_, ms, _ := env.Service.Conversation(c.ID, 0)
				stored += countIn(ms)
			}
			if stored != acks || env.Refused("webchat", "messages") < 1 {
				t.Fatalf("%d messages stored for %d acks; refusals counted %d", stored, acks, env.Refused("webchat", "messages"))
			}
		})
	}
}

// TestSilentSocketsAreClosed (invariant 3): a socket that never says hello, or stops
// answering pings, is closed and counted; one that answers stays.
func TestSilentSocketsAreClosed(t *testing.T) {
	t.Run("no hello", func(t *testing.T) {
		env, url := limited(t, channels.WebChatLimits{HelloTimeout: 200 * time.Millisecond}, false)
		ws, _ := rawDial(t, url, nil)
		if status, _ := ws.untilClosed(); !strings.HasPrefix(status, "1008") {
			t.Fatalf("closed with %q, want 1008", status)
		}
		if n := env.Refused("webchat", "hello_timeout"); n != 1 {
			t.Fatalf("hello timeouts counted %d", n)
		}
	})
	t.Run("no pong", func(t *testing.T) {
		env, url := limited(t, channels.WebChatLimits{PingInterval: 50 * time.Millisecond, PongTimeout: 200 * time.Millisecond}, false)
		ws, _ := rawDial(t, url, nil)
		ws.send(map[string]any{"t": "hello"})
		ws.next()
		if _, pings := ws.untilClosed(); pings < 1 {
			t.Fatal("closed before any ping")
		}
		if n := env.Refused("webchat", "pong_timeout"); n != 1 {
			t.Fatalf("pong timeouts counted %d", n)
		}
	})
	t.Run("answers pings", func(t *testing.T) {
		_, url := limited(t, channels.WebChatLimits{PingInterval: 50 * time.Millisecond, PongTimeout: 10 * time.Second}, false)
		ws, _ := rawDial(t, url, nil)
		ws.send(map[string]any{"t": "hello"})
		ws.next()
		for pongs := 0; pongs < 3; {
			op, p, err := ws.readFrame()
			if err != nil || op == 0x8 {
				t.Fatalf("closed after %d pongs: %v %s", pongs, err, closeOf(p))
			}
			if op == 0x9 {
				ws.writeFrame(0xa, p)
				pongs++
			}
		}
		ws.send(map[string]any{"t": "msg", "cid": "a", "text": "still here"})
		if f := ws.next(); f["t"] != "ack" {
			t.Fatalf("after pongs: %v", f)
		}
	})
}

// TestReconnectLoopIsBounded (invariant 2): a hello replays the history, so it takes a token
// like a message; reconnecting in a loop is refused with 1013 once the burst is spent.
func TestReconnectLoopIsBounded(t *testing.T) {
	env, url := limited(t, channels.WebChatLimits{MessagesPerMinute: 1, MessagesBurst: 3}, false)
	for i := range 3 {
		ws, _ := rawDial(t, url, nil)
		ws.send(map[string]any{"t": "hello"})
		if f := ws.next(); f["t"] != "welcome" {
			t.Fatalf("hello %d: %v", i+1, f)
		}
		ws.conn.Close()
	}
	ws, _ := rawDial(t, url, nil)
	ws.send(map[string]any{"t": "hello"})
	if status, _ := ws.untilClosed(); !strings.HasPrefix(status, "1013") {
		t.Fatalf("4th hello within the minute: closed with %q, want 1013", status)
	}
	if env.Refused("webchat", "messages") != 1 {
		t.Fatalf("refusals counted %d", env.Refused("webchat", "messages"))
	}
}
