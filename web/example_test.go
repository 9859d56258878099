package web_test

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// The wiring cmd/ccswitch does: the engine's Sink hands text events to the conversation
// service (it exists only once web.New returned, hence the atomic pointer; events before that
// concern no text task), the web server runs the service, the adapters and HTTP.
func ExampleNew() {
	cfg, _ := config.Default()
	st, _ := store.Open("data")
	defer st.Close()
	flows, _ := ivr.Compile(cfg, ivr.Options{})
	var text atomic.Pointer[channels.Service]
	eng, _ := acd.New(acd.Config{ /* queues and agents from cfg */ Sink: acd.SinkFunc(func(ev acd.Event) {
		// voice.Event(ev) — the voice path takes its own tasks' events here too
		if s := text.Load(); s != nil {
			s.ACDEvent(ev) // ignores tasks that are not conversations
		}
	})})
	// The text adapters are those cfg.Channels enables (the `channels:` section).
	srv, err := web.New(web.Options{Config: cfg, Store: st, Engine: eng, Flows: flows, Logger: slog.Default()})
	if err != nil {
		panic(err)
	}
	text.Store(srv.Service())
	ctx := context.Background()
	go eng.Run(ctx)
	srv.Run(ctx) // HTTP on cfg.HTTP.Listen, the service, the SMTP listener when enabled
}
