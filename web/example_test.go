package web_test

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// The wiring cmd/ccswitch does: the center (engine, flows, presence, call records) under the
// web server, which runs the conversation service, the adapters and HTTP; one registry for
// every part's metrics, served at /metrics.
func ExampleNew() {
	cfg, _ := config.Default()
	st, _ := store.Open("data")
	defer st.Close()
	reg := prometheus.NewRegistry()
	cc, err := center.New(cfg, center.Options{Store: st, Registerer: reg, Logger: slog.Default()})
	if err != nil {
		panic(err)
	}
	// The text adapters are those cfg.Channels enables (the `channels:` section).
	srv, err := web.New(web.Options{Config: cfg, Store: st, Center: cc, Registerer: reg, Gatherer: reg,
		Logger: slog.Default()})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	go cc.Run(ctx)
	srv.Run(ctx) // HTTP on cfg.HTTP.Listen, the service, the SMTP listener when enabled
}
