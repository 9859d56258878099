package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/store"
)

//go:embed assets
var assets embed.FS

// Options configure the web server.
type Options struct {
	Config *config.Config
	Store  *store.Store
	// Center is the contact center: text conversations are queued through it, agents' presence
	// is its (desktop sessions sign them in for text), and the wallboard reads its snapshots.
	// The text adapters are those Config.Channels enables (channels.FromConfig).
	Center *center.Center
	// Registerer gets the web's and the channels' metrics; Gatherer is what /metrics serves
	// (cmd/ccswitch gives the process's one registry as both). Nil: none, and /metrics is 404.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Logger     *slog.Logger
	// Listen overrides Config.HTTP.Listen.
	Listen string
	// SessionTTL, when set, overrides http.session_ttl (tests).
	SessionTTL time.Duration
	// Clock, when set, replaces time.Now for sessions and login back-off (tests).
	Clock func() time.Time
	// CRM, optional, looks up the customer of each offer and screen pop (center/crm.Client).
	CRM channels.CRM
	// Phone, optional, is the browser phone behind the desktop's WebSocket (webphone.Gateway;
	// web/phone.go).
	Phone Phone
	// Monitoring, optional, is the voice side of the wallboard's live calls and its Listen /
	// Whisper / Barge buttons (wallboard.go); nil: no live calls, POST /api/monitor is 503.
	Monitoring Monitoring
	// Calls, optional, transfers agents' voice calls (the desktop's Transfer button; calls.go).
	Calls CallTransferer
}

// Server is the HTTP server and the text-channel side of ccswitch.
type Server struct {
	opts    Options
	log     *slog.Logger
	svc     *channels.Service
	mux     *http.ServeMux
	chans   *adapters             // the text adapters, rebuilt by Reload
	model   atomic.Pointer[model] // agents and config, replaced by Reload
	started time.Time
	trends  trends // the wallboard's last hour per queue (wallboard.go)

	wait atomic.Pointer[waitingBox] // the voice path's waiting callers (waiting.go)

	mu       sync.Mutex
	sessions map[string]*session

	webSecurity
}

type agentLogin struct {
	id, name   string
	hash       []byte
	supervisor bool
}

func (a agentLogin) role() string {
	if a.supervisor {
		return "supervisor"
	}
	return "agent"
}

// model is what the server takes from the configuration: swapped whole on Reload.
type model struct {
	cfg    *config.Config
	agents map[string]agentLogin
	dummy  []byte // compared against for unknown agent ids, at the agents' bcrypt cost
	edge   edge
	http   config.HTTPSecurity // with defaults filled in
}

func newModel(cfg *config.Config, old *model) (*model, error) {
	m := &model{cfg: cfg, agents: map[string]agentLogin{}, edge: newEdge(cfg.HTTP),
		http: cfg.HTTP.HTTPSecurity.WithDefaults()}
	for _, a := range cfg.Agents {
		hash := []byte(a.PasswordHash)
		if len(hash) == 0 && a.Password != "" {
			// Keep the hash of an unchanged password across reloads (bcrypt is slow on purpose).
			if prev, ok := old.agent(a.ID); ok && bcrypt.CompareHashAndPassword(prev.hash, []byte(a.Password)) == nil {
				hash = prev.hash
			} else {
				h, err := bcrypt.GenerateFromPassword([]byte(a.Password), bcrypt.DefaultCost)
				if err != nil {
					return nil, fmt.Errorf("web: hash password of agent %s: %w", a.ID, err)
				}
				hash = h
			}
		}
		m.agents[a.ID] = agentLogin{id: a.ID, name: cmp.Or(a.Name, a.ID), hash: hash, supervisor: a.Supervisor()}
	}
	var hashes [][]byte
	for _, a := range m.agents {
		hashes = append(hashes, a.hash)
	}
	var oldDummy []byte
	if old != nil {
		oldDummy = old.dummy
	}
	m.dummy = dummyHash(hashes, oldDummy)
	return m, nil
}

func (m *model) agent(id string) (agentLogin, bool) {
	if m == nil {
		return agentLogin{}, false
	}
	a, ok := m.agents[id]
	return a, ok
}

// Reload applies a new configuration (agents, their passwords and names, text adapters);
// sessions, conversations and offers in progress continue. Adapters whose settings changed are
// rebuilt, new ones start, removed ones stop. Queues and flows follow the center's reload,
// which must come first (an adapter's entry names a number of the center's flows).
func (s *Server) Reload(cfg *config.Config) error {
	m, err := newModel(cfg, s.model.Load())
	if err != nil {
		return err
	}
	if err := s.chans.apply(channels.FromConfig(cfg)); err != nil {
		return err
	}
	s.model.Store(m)
	s.resizeHashing(m.http.Login.MaxHashing)
	s.revalidate(m)
	return nil
}

// New builds the server: the conversation service, every enabled adapter, the routes.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Store == nil || o.Center == nil {
		return nil, errors.New("web: new: Config, Store and Center are required")
	}
	o.Logger = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	o.Listen = cmp.Or(o.Listen, o.Config.HTTP.Listen, config.DefaultHTTP)
	s := &Server{opts: o, log: o.Logger.With("component", "web"), mux: http.NewServeMux(),
		sessions: map[string]*session{}, started: time.Now()}
	m, err := newModel(o.Config, nil)
	if err != nil {
		return nil, err
	}
	s.model.Store(m)
	s.initSecurity(o.Config)
	metrics.Register(o.Registerer, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ccswitch_desktop_sessions",
		Help: "Live agent desktop sessions."}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.sessions))
	}))
	chans := channels.FromConfig(o.Config)
	svc, err := channels.NewService(channels.Options{Store: o.Store, Center: o.Center, Channels: chans,
		Registerer: o.Registerer, Logger: o.Logger, CRM: o.CRM})
	if err != nil {
		return nil, err
	}
	s.svc = svc
	s.chans = newAdapters(svc, o.Store, o.Logger, func(r *http.Request) netip.Addr { return s.model.Load().edge.source(r) })
	if err := s.chans.apply(chans); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Service returns the conversation service (the voice path calls its ScreenPop).
func (s *Server) Service() *channels.Service { return s.svc }

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler { return s.front(s.mux) }

// Run listens on Options.Listen and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("web: listen %s: %w", s.opts.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve runs the conversation service, the email listener (if enabled) and HTTP on ln until
// ctx ends; it returns after all of them stopped.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := s.model.Load().http
	hs := &http.Server{Handler: s.Handler(), BaseContext: func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: h.Timeouts.ReadHeader.D(), ReadTimeout: h.Timeouts.Read.D(), WriteTimeout: h.Timeouts.Write.D(),
		IdleTimeout: h.Timeouts.Idle.D(), MaxHeaderBytes: h.MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	if err := s.chans.serve(ctx); err != nil {
		return err
	}
	defer s.chans.wait()
	wg.Add(1)
	go func() { defer wg.Done(); errs <- s.svc.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.sampleTrends(ctx) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.sweepEvery())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sweep()
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		hs.Shutdown(sctx)
	}()
	s.log.Info("http listening", "addr", ln.Addr().String())
	err := hs.Serve(ln)
	cancel()
	wg.Wait()
	close(errs)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	for e := range errs {
		err = cmp.Or(err, e)
	}
	return err
}

func (s *Server) routes() {
	static, _ := fs.Sub(assets, "assets")
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	s.mux.HandleFunc("GET /wallboard", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "wallboard.html")
	})
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", assetFiles(static)))
	if s.opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	s.mux.Handle("/webhooks/", s.webhookGuard(s.chans))
	s.mux.Handle("/chat/", s.chans)
	s.mux.Handle("GET /widget.js", s.chans)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })

	s.mux.HandleFunc("POST /api/login", s.login)
	s.mux.HandleFunc("POST /api/logout", s.auth(s.logout))
	s.mux.HandleFunc("GET /api/me", s.auth(s.me))
	s.mux.HandleFunc("POST /api/state", s.auth(s.setState))
	s.mux.HandleFunc("POST /api/voice", s.auth(s.setVoice))
	s.mux.HandleFunc("POST /api/offers/{conv}/accept", s.auth(s.accept))
	s.mux.HandleFunc("POST /api/offers/{conv}/reject", s.auth(s.reject))
	s.mux.HandleFunc("GET /api/conversations/{conv}", s.auth(s.conversation))
	s.mux.HandleFunc("POST /api/conversations/{conv}/reply", s.auth(s.reply))
	s.mux.HandleFunc("POST /api/conversations/{conv}/transfer", s.auth(s.transfer))
	s.mux.HandleFunc("POST /api/conversations/{conv}/close", s.auth(s.closeConv))
	s.mux.HandleFunc("POST /api/calls/{call}/transfer", s.auth(s.transferCall))
	s.mux.HandleFunc("GET /api/customers", s.auth(s.customers))
	s.mux.HandleFunc("GET /api/customers/{id}/timeline", s.auth(s.timeline))
	s.mux.HandleFunc("POST /api/customers/{id}/link", s.auth(s.supervisorOnly(s.link)))
	s.mux.HandleFunc("POST /api/customers/{id}/unlink", s.auth(s.supervisorOnly(s.unlink)))
	s.mux.HandleFunc("GET /api/audit", s.auth(s.supervisorOnly(s.audit)))
	s.mux.HandleFunc("GET /api/stats", s.auth(s.stats))
	s.mux.HandleFunc("GET /api/wallboard", s.auth(s.wallboard))
	s.mux.HandleFunc("POST /api/monitor", s.auth(s.monitor))
	s.mux.HandleFunc("GET /api/ws", s.auth(s.agentWS))
	s.waitingRoutes()
}
