package voice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// ErrNotVerified refuses a text contact's callback to a number that is not one of its
// customer's verified channel numbers.
var ErrNotVerified = errors.New("voice: not a verified number of the customer")

// verifiedKinds are the identities whose value is a phone number the provider verified (the
// contact wrote from it).
var verifiedKinds = []string{"sms", "whatsapp"}

// RequestCallback is center.Callbacker: a text contact asked for a call. The number must be
// one of the customer's SMS or WhatsApp identities (never a typed one); callback.denied and
// callback.daily_cap apply; the call is placed like a caller's callback (preview, the agent,
// then the customer through the outbound decision), from callback.caller_id, with the default
// retries. It returns the callback's task; a conversation with a callback pending gets that
// one again (nothing more is counted on the cap).
func (a *App) RequestCallback(ctx context.Context, r center.CallbackRequest) (string, error) {
	m := a.cb
	cfg := a.state.Load().cfg
	pol := config.Callback{}
	if cfg != nil {
		pol = cfg.Callback
	}
	if m.st == nil {
		return "", fmt.Errorf("voice: callback for %s: no store", r.Conversation)
	}
	if _, ok := a.center.Snapshot().Queue(r.Queue); !ok {
		return "", fmt.Errorf("voice: callback for %s: unknown queue %q", r.Conversation, r.Queue)
	}
	cust, ok, err := m.st.Customer(r.Customer)
	if err != nil {
		return "", err
	}
	if r.Number == "" && ok { // the customer's first verified number (a web chat visitor's SMS one)
		for _, id := range cust.Identities {
			if slices.Contains(verifiedKinds, id.Kind) {
				r.Number = id.Value
				break
			}
		}
	}
	want := strings.TrimPrefix(r.Number, "+")
	verified := ok && want != "" && slices.ContainsFunc(cust.Identities, func(id store.Identity) bool {
		return slices.Contains(verifiedKinds, id.Kind) && strings.TrimPrefix(id.Value, "+") == want
	})
	if !verified {
		m.refuse(r.Number, ErrNotVerified.Error(), "conversation", r.Conversation)
		return "", fmt.Errorf("voice: callback for %s: %w", r.Conversation, ErrNotVerified)
	}
	// One callback per conversation at a time: asking again (the keyword twice, the widget's
	// button pressed twice) gets the pending one, and takes nothing off the daily cap.
	m.textMu.Lock()
	defer m.textMu.Unlock()
	if task, ok := m.pendingFor(r.Conversation); ok {
		m.log.Info("callback asked again by a text contact: already pending", "task", task)
		return task, nil
	}
	n, err := callbackNumber(pol, r.Number, pol.CallerID, false)
	if err == nil && !m.takeCap(n, pol.DailyCap) {
		err = errCallbackCap
	}
	if err != nil {
		m.refuse(r.Number, err.Error(), "conversation", r.Conversation)
		return "", fmt.Errorf("voice: callback for %s: %w", r.Conversation, err)
	}
	now := time.Now()
	rec := store.Callback{Task: fmt.Sprintf("cb-%s-%d", r.Conversation, now.UnixNano()), Queue: r.Queue, Priority: r.Priority,
		Reqs: r.Requirements.Strings(), Number: n, Source: "verified", DID: pol.CallerID, Language: r.Language,
		Vars: maps.Clone(r.Vars), Enqueued: now, Accepted: now, Retries: config.DefaultCallbackRetries,
		RetryAfter: config.DefaultCallbackRetryAfter, Preview: config.DefaultCallbackPreview}
	if rec.Vars == nil {
		rec.Vars = map[string]string{}
	}
	rec.Vars["conversation"] = r.Conversation
	m.put(rec)
	m.total.WithLabelValues("accepted").Inc()
	m.log.Info("callback asked by a text contact", "task", rec.Task, "queue", rec.Queue)
	m.schedule(rec)
	return rec.Task, nil
}

// pendingFor is the stored callback a text conversation asked for and that is not made or
// given up yet.
func (m *callbacks) pendingFor(conv string) (string, bool) {
	recs, err := m.st.Callbacks()
	if err != nil {
		m.log.Error("callbacks not read", "error", err)
		return "", false
	}
	for _, rec := range recs {
		if rec.Source == "verified" && rec.Vars["conversation"] == conv {
			return rec.Task, true
		}
	}
	return "", false
}
