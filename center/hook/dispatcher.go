package hook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/internal/ratelog"
)

// Headers of every request.
const (
	HeaderSignature = "X-Ccswitch-Signature" // sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
	HeaderTimestamp = "X-Ccswitch-Timestamp" // Unix seconds, signed
	HeaderEvent     = "X-Ccswitch-Event"     // the event's type
	HeaderDelivery  = "X-Ccswitch-Delivery"  // the event's id
)

// Details describes a task beyond the engine's event (the conversation service implements it:
// adapter, customer, wrap-up code). It is called on the dispatcher's fan-out goroutine, never
// on the engine's, and may read the store.
type Details interface {
	TaskDetails(task string) map[string]string
}

// Options configure a Dispatcher.
type Options struct {
	// Webhooks are the endpoints (config.Config.Webhooks, defaults applied).
	Webhooks []config.Webhook
	// Details, optional, adds a task's details to its events.
	Details Details
	// Client sends the requests (default: one that follows no redirect; each attempt is
	// bounded by the endpoint's timeout).
	Client *http.Client
	// Backoff is the wait before attempt n+1 after attempt n failed (default 1s doubling, at
	// most 1m).
	Backoff func(n int) time.Duration
	// IntakeSize bounds the events waiting for the fan-out (default 4096).
	IntakeSize int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Dispatcher fans events out to the configured endpoints. ACDEvent, Publish and Reload are
// safe for concurrent use; Run is called once.
type Dispatcher struct {
	o       Options
	log     *slog.Logger
	rl      *ratelog.Logger
	intake  chan Event
	details Details

	dropped   *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	queued    *prometheus.GaugeVec

	mu      sync.Mutex
	eps     map[string]*endpoint
	ctx     context.Context // Run's, once it started
	senders sync.WaitGroup
}

// endpoint is one webhook and its sender.
type endpoint struct {
	cfg    config.Webhook
	queue  chan Event
	cancel context.CancelFunc // nil until its sender started
	done   chan struct{}
}

// New returns a dispatcher for o.Webhooks; Run starts delivering.
func New(o Options) *Dispatcher {
	o.Logger = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return min(time.Minute, time.Second<<min(n-1, 6)) }
	}
	if o.IntakeSize <= 0 {
		o.IntakeSize = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger.With("component", "center.hook")
	d := &Dispatcher{o: o, log: log, rl: ratelog.New(log, time.Minute), intake: make(chan Event, o.IntakeSize),
		details: o.Details, eps: map[string]*endpoint{}}
	d.dropped = metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_hook_dropped_total",
		Help: "Webhook events not delivered, by endpoint and reason (intake-full, queue-full, gave-up, refused, removed, shutdown).",
	}, []string{"webhook", "reason"}))
	d.attempts = metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_hook_attempts_failed_total",
		Help: "Webhook delivery attempts that failed, by endpoint and cause (status code, timeout, error).",
	}, []string{"webhook", "cause"}))
	d.delivered = metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_hook_delivered_total",
		Help: "Webhook events delivered (2xx), by endpoint and event type.",
	}, []string{"webhook", "type"}))
	d.queued = metrics.Register(o.Registerer, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ccswitch_hook_queued",
		Help: "Webhook events waiting for their endpoint.",
	}, []string{"webhook"}))
	d.Reload(o.Webhooks)
	return d
}

// ACDEvent takes one engine event (the engine's Sink calls it); it never blocks.
func (d *Dispatcher) ACDEvent(ev acd.Event) {
	if e, ok := FromACD(ev); ok {
		d.Publish(e)
	}
}

// Publish queues e for the endpoints subscribed to its type; it never blocks (invariant 1).
func (d *Dispatcher) Publish(e Event) {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = d.o.Now()
	}
	select {
	case d.intake <- e:
	default:
		d.dropped.WithLabelValues("", "intake-full").Inc()
		d.rl.Warn("intake-full", "webhook event dropped: the dispatcher is behind", "type", e.Type, "task", e.Task)
	}
}

// Reload replaces the endpoints: new ones start, changed ones restart with their queued
// events, removed ones stop (invariant 5).
func (d *Dispatcher) Reload(hooks []config.Webhook) {
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := map[string]bool{}
	for _, w := range hooks {
		keep[w.Name] = true
		old := d.eps[w.Name]
		if old != nil && reflect.DeepEqual(old.cfg, w) {
			continue
		}
		ep := &endpoint{cfg: w, queue: make(chan Event, max(1, w.QueueSize)), done: make(chan struct{})}
		if old != nil {
			d.stopLocked(old)
			d.moveQueued(old, ep)
		}
		d.eps[w.Name] = ep
		if d.ctx != nil {
			d.startLocked(ep)
		}
		d.log.Info(map[bool]string{true: "webhook started", false: "webhook restarted"}[old == nil], "webhook", w.Name, "events", w.Events)
	}
	for name, ep := range d.eps {
		if !keep[name] {
			d.stopLocked(ep)
			n := len(ep.queue)
			d.dropped.WithLabelValues(name, "removed").Add(float64(n))
			d.queued.DeleteLabelValues(name)
			delete(d.eps, name)
			d.log.Info("webhook removed", "webhook", name, "dropped", n)
		}
	}
}

// moveQueued hands old's waiting events to ep, in order; those past ep's queue are dropped.
func (d *Dispatcher) moveQueued(old, ep *endpoint) {
	for {
		select {
		case e := <-old.queue:
			select {
			case ep.queue <- e:
			default:
				d.dropped.WithLabelValues(ep.cfg.Name, "queue-full").Inc()
			}
		default:
			return
		}
	}
}

// Run delivers until ctx ends, then returns after every sender stopped. Events still queued
// then are dropped and counted.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	for _, ep := range d.eps {
		d.startLocked(ep)
	}
	d.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			d.mu.Lock()
			for name, ep := range d.eps {
				d.stopLocked(ep)
				d.dropped.WithLabelValues(name, "shutdown").Add(float64(len(ep.queue)))
			}
			d.mu.Unlock()
			d.senders.Wait()
			return nil
		case e := <-d.intake:
			d.fanOut(e)
		}
	}
}

// fanOut describes e and queues it for every endpoint subscribed to its type.
func (d *Dispatcher) fanOut(e Event) {
	if d.details != nil {
		e.Details = d.details.TaskDetails(e.Task)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, ep := range d.eps {
		if !slices.Contains(ep.cfg.Events, e.Type) {
			continue
		}
		select {
		case ep.queue <- e:
			d.queued.WithLabelValues(name).Inc()
		default:
			d.dropped.WithLabelValues(name, "queue-full").Inc()
			d.rl.Warn("queue-full|"+name, "webhook event dropped: the endpoint's queue is full", "webhook", name, "type", e.Type, "task", e.Task)
		}
	}
}

func (d *Dispatcher) startLocked(ep *endpoint) {
	ctx, cancel := context.WithCancel(d.ctx)
	ep.cancel = cancel
	d.senders.Add(1)
	go func() {
		defer d.senders.Done()
		defer close(ep.done)
		d.send(ctx, ep)
	}()
}

// stopLocked stops ep's sender and waits for it (an attempt in flight is cut short).
func (d *Dispatcher) stopLocked(ep *endpoint) {
	if ep.cancel == nil {
		return
	}
	ep.cancel()
	<-ep.done
	ep.cancel = nil
}

// send delivers ep's events one at a time, in order (invariant 3), until ctx ends.
func (d *Dispatcher) send(ctx context.Context, ep *endpoint) {
	name := ep.cfg.Name
	for {
		var e Event
		select {
		case <-ctx.Done():
			return
		case e = <-ep.queue:
		}
		d.queued.WithLabelValues(name).Dec()
		body, err := json.Marshal(e)
		if err != nil { // cannot happen: Event is plain data
			d.log.Error("webhook event not encoded", "webhook", name, "error", err)
			continue
		}
		for n := 1; ; n++ {
			err := d.attempt(ctx, ep.cfg, e, body)
			if err == nil {
				d.delivered.WithLabelValues(name, e.Type).Inc()
				break
			}
			if ctx.Err() != nil {
				// Stopped mid-event (shutdown or reload): a restarted sender retries it.
				d.requeue(ep, e)
				return
			}
			d.attempts.WithLabelValues(name, cause(err)).Inc()
			if errors.Is(err, errRefused) || n >= ep.cfg.Attempts {
				reason := "gave-up"
				if errors.Is(err, errRefused) {
					reason = "refused"
				}
				d.dropped.WithLabelValues(name, reason).Inc()
				d.rl.Warn(reason+"|"+name, "webhook event not delivered", "webhook", name, "type", e.Type,
					"task", e.Task, "attempts", n, "error", err)
				break
			}
			select {
			case <-ctx.Done():
				d.requeue(ep, e)
				return
			case <-time.After(d.o.Backoff(n)):
			}
		}
	}
}

// requeue puts back the event a stopped sender was working on, so that a reload does not
// lose it (it goes to the back of the queue when others are waiting).
func (d *Dispatcher) requeue(ep *endpoint, e Event) {
	select {
	case ep.queue <- e:
		d.queued.WithLabelValues(ep.cfg.Name).Inc()
	default:
		d.dropped.WithLabelValues(ep.cfg.Name, "queue-full").Inc()
	}
}

// attempt POSTs body once, signed (invariant 2).
func (d *Dispatcher) attempt(ctx context.Context, w config.Webhook, e Event, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("hook: %s: %w: %v", w.Name, errRefused, err)
	}
	ts := strconv.FormatInt(d.o.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ccswitch-webhook")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.Secret, ts, body))
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderDelivery, e.ID)
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("hook: %s: %w", w.Name, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return &statusError{code: c, refused: true}
	default:
		return &statusError{code: c}
	}
}

type statusError struct {
	code    int
	refused bool
}

func (e *statusError) Error() string { return "hook: endpoint answered " + strconv.Itoa(e.code) }

// Is makes a refusing status match errRefused.
func (e *statusError) Is(target error) bool { return e.refused && target == errRefused }

// cause labels a failed attempt in metrics: the status code, timeout or error.
func cause(err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

// Sign returns the X-Ccswitch-Signature value of body sent at timestamp ts (Unix seconds, as
// in X-Ccswitch-Timestamp): "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a request's signature as a receiver would: the timestamp is within tolerance
// of now and the signature matches, compared in constant time. It is what README documents.
func Verify(secret, ts, sig string, body []byte, now time.Time, tolerance time.Duration) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body)))
}
