package web

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/email"
	"github.com/ccswitch/ccswitch/channels/messenger"
	"github.com/ccswitch/ccswitch/channels/sms"
	"github.com/ccswitch/ccswitch/channels/telegram"
	"github.com/ccswitch/ccswitch/channels/webchat"
	"github.com/ccswitch/ccswitch/channels/whatsapp"
	"github.com/ccswitch/ccswitch/store"
)

// webhookAdapter is an adapter that a provider reaches by HTTP at /webhooks/<name>.
type webhookAdapter interface {
	channels.Adapter
	http.Handler
}

// adapters runs the text adapters the configuration enables. apply builds the ones that are
// new, rebuilds those whose settings changed and drops those whose section left; the routes
// of the enabled ones are a ServeMux swapped whole, so a request sees one configuration.
// Conversations live in the Service and the store, so they continue across a rebuild.
type adapters struct {
	svc *channels.Service
	st  *store.Store
	log *slog.Logger
	mux atomic.Pointer[http.ServeMux]

	// source is the client's address as the server's front sees it (trusted proxies'
	// X-Forwarded-For), so the widget's limits count visitors, not the proxy.
	source func(*http.Request) netip.Addr

	mu       sync.Mutex // serialises apply and serve
	cur      channels.Config
	webchat  *webchat.Adapter
	webhooks map[string]webhookAdapter
	mail     *emailRun
	ctx      context.Context // Serve's, once it started
	wg       sync.WaitGroup  // email listeners
}

// emailRun is a running SMTP listener.
type emailRun struct {
	a      *email.Adapter
	cfg    channels.Email
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

func newAdapters(svc *channels.Service, st *store.Store, log *slog.Logger, source func(*http.Request) netip.Addr) *adapters {
	a := &adapters{svc: svc, st: st, log: log.With("component", "web.channels"), webhooks: map[string]webhookAdapter{}, source: source}
	a.mux.Store(http.NewServeMux())
	return a
}

// ServeHTTP routes to the enabled adapters; a disabled one's paths answer 404.
func (a *adapters) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.Load().ServeHTTP(w, r) }

// apply makes the running adapters those of c. A first call (from New) builds them all; later
// ones (Reload) touch only what changed. An SMTP listener that cannot bind fails apply.
func (a *adapters) apply(c channels.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.svc.SetChannels(c); err != nil {
		return err
	}
	if c.WebChat.Enabled {
		if a.webchat == nil {
			key, err := a.st.Secret("webchat", 32)
			if err != nil {
				return err
			}
			a.webchat = webchat.New(c.WebChat, a.svc, key, a.log)
			if a.source != nil {
				a.webchat.SetClientAddr(a.source)
			}
			a.svc.AddAdapter(a.webchat)
			a.log.Info("channel adapter started", "adapter", "webchat")
		} else if !reflect.DeepEqual(c.WebChat, a.cur.WebChat) {
			// Its sockets are the visitors' conversations: reconfigured, never rebuilt.
			a.webchat.Reconfigure(c.WebChat)
			a.svc.AddAdapter(a.webchat)
			a.log.Info("channel adapter reconfigured", "adapter", "webchat")
		}
	} else if a.webchat != nil {
		a.svc.RemoveAdapter("webchat")
		a.webchat.Disconnect()
		a.webchat = nil
		a.log.Info("channel adapter stopped", "adapter", "webchat")
	}

	want := map[string]struct {
		on    bool
		same  bool
		build func() webhookAdapter
	}{
		"sms": {c.SMS.Enabled, reflect.DeepEqual(c.SMS, a.cur.SMS),
			func() webhookAdapter { return sms.New(c.SMS, a.svc, a.log) }},
		"whatsapp": {c.WhatsApp.Enabled, reflect.DeepEqual(c.WhatsApp, a.cur.WhatsApp),
			func() webhookAdapter { return whatsapp.New(c.WhatsApp, a.svc, a.log) }},
		"messenger": {c.Messenger.Enabled, reflect.DeepEqual(c.Messenger, a.cur.Messenger),
			func() webhookAdapter { return messenger.New(c.Messenger, a.svc, a.log) }},
		"telegram": {c.Telegram.Enabled, reflect.DeepEqual(c.Telegram, a.cur.Telegram),
			func() webhookAdapter { return telegram.New(c.Telegram, a.svc, a.log) }},
	}
	for name, w := range want {
		old := a.webhooks[name]
		switch {
		case w.on && (old == nil || !w.same):
			h := w.build()
			a.webhooks[name] = h
			a.svc.AddAdapter(h)
			a.log.Info(map[bool]string{true: "channel adapter started", false: "channel adapter rebuilt"}[old == nil], "adapter", name)
		case !w.on && old != nil:
			delete(a.webhooks, name)
			a.svc.RemoveAdapter(name)
			a.log.Info("channel adapter stopped", "adapter", name)
		}
	}

	if err := a.applyEmail(c.Email); err != nil {
		return err
	}
	a.cur = c

	mux := http.NewServeMux()
	if a.webchat != nil {
		a.webchat.Routes(mux)
	}
	for name, h := range a.webhooks {
		mux.Handle("/webhooks/"+name, h)
	}
	a.mux.Store(mux)
	return nil
}

// applyEmail starts, restarts (settings changed) or stops the SMTP listener. Called with a.mu.
func (a *adapters) applyEmail(c channels.Email) error {
	if a.mail != nil && c.Enabled && reflect.DeepEqual(c, a.mail.cfg) {
		return nil
	}
	if a.mail != nil {
		if a.mail.cancel != nil { // started: stop it and wait for its sessions
			a.mail.cancel()
			<-a.mail.done
		}
		a.mail = nil
		a.svc.RemoveAdapter("email")
		a.log.Info("channel adapter stopped", "adapter", "email")
	}
	if !c.Enabled {
		return nil
	}
	ad := email.New(c, a.svc, a.log)
	a.mail = &emailRun{a: ad, cfg: c, done: make(chan struct{})}
	a.svc.AddAdapter(ad)
	if a.ctx != nil {
		return a.startEmail()
	}
	return nil
}

// startEmail binds the SMTP listener and serves it until Serve's context ends or the adapter
// is replaced. Called with a.mu, after serve set a.ctx.
func (a *adapters) startEmail() error {
	m := a.mail
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		a.svc.RemoveAdapter("email")
		a.mail = nil
		return fmt.Errorf("web: email: listen %s: %w", m.cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	m.ln, m.cancel = ln, cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(m.done)
		if err := m.a.Serve(ctx, ln); err != nil {
			a.log.Error("SMTP listener stopped", "adapter", "email", "error", err)
		}
	}()
	a.log.Info("channel adapter started", "adapter", "email", "listen", ln.Addr().String())
	return nil
}

// serve starts what needs ctx (the SMTP listener); stop waits for it after ctx ended.
func (a *adapters) serve(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ctx = ctx
	if a.mail != nil {
		return a.startEmail()
	}
	return nil
}

// wait returns once the listeners serve started have stopped (their context ended).
func (a *adapters) wait() { a.wg.Wait() }
