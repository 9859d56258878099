package webchat

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ccswitch/ccswitch/channels"
)

// maxAddrs is how many idle addresses are remembered before the idle ones are swept.
const maxAddrs = 4096

// addrLimits is what each address (an IPv6 one by its /64) does with the widget: its open
// sockets and its token buckets for new conversations and messages (package invariant 2).
type addrLimits struct {
	mu sync.Mutex
	m  map[string]*addrState
}

type addrState struct {
	conns       int
	convs, msgs *rate.Limiter
	seen        time.Time
}

func newAddrLimits() *addrLimits { return &addrLimits{m: map[string]*addrState{}} }

// state returns key's record with its buckets set to l. Called with mu.
func (al *addrLimits) state(key string, l channels.WebChatLimits, now time.Time) *addrState {
	st := al.m[key]
	if st == nil {
		if len(al.m) >= maxAddrs {
			al.sweep(l, now)
		}
		st = &addrState{convs: rate.NewLimiter(perMinute(l.ConversationsPerMinute), l.ConversationsPerMinute),
			msgs: rate.NewLimiter(perMinute(l.MessagesPerMinute), l.MessagesBurst)}
		al.m[key] = st
	}
	if st.convs.Limit() != perMinute(l.ConversationsPerMinute) || st.convs.Burst() != l.ConversationsPerMinute {
		st.convs.SetLimitAt(now, perMinute(l.ConversationsPerMinute))
		st.convs.SetBurstAt(now, l.ConversationsPerMinute)
	}
	if st.msgs.Limit() != perMinute(l.MessagesPerMinute) || st.msgs.Burst() != l.MessagesBurst {
		st.msgs.SetLimitAt(now, perMinute(l.MessagesPerMinute))
		st.msgs.SetBurstAt(now, l.MessagesBurst)
	}
	st.seen = now
	return st
}

// sweep forgets the addresses with no socket whose buckets are full again (forgetting them
// gives nothing back that time had not). Called with mu.
func (al *addrLimits) sweep(l channels.WebChatLimits, now time.Time) {
	refill := max(time.Minute, time.Duration(l.MessagesBurst)*time.Minute/time.Duration(l.MessagesPerMinute))
	for k, st := range al.m {
		if st.conns == 0 && now.Sub(st.seen) > refill {
			delete(al.m, k)
		}
	}
}

func perMinute(n int) rate.Limit { return rate.Limit(float64(n) / 60) }

// open takes one of key's sockets; false when it has l.Connections open already.
func (al *addrLimits) open(key string, l channels.WebChatLimits) (release func(), ok bool) {
	now := time.Now()
	al.mu.Lock()
	defer al.mu.Unlock()
	st := al.state(key, l, now)
	if st.conns >= l.Connections {
		return nil, false
	}
	st.conns++
	return sync.OnceFunc(func() {
		al.mu.Lock()
		st.conns--
		st.seen = time.Now()
		al.mu.Unlock()
	}), true
}

// message takes a token for one message of key; conversation one for a new conversation.
func (al *addrLimits) message(key string, l channels.WebChatLimits) bool {
	now := time.Now()
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.state(key, l, now).msgs.AllowN(now, 1)
}

func (al *addrLimits) conversation(key string, l channels.WebChatLimits) bool {
	now := time.Now()
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.state(key, l, now).convs.AllowN(now, 1)
}

// RemoteAddr is the default client address of a request: the peer of its connection. Behind
// a reverse proxy, give the adapter one that trusts the proxy's header (SetClientAddr).
func RemoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a
	}
	return ap.Addr()
}

// addrKey is the key an address is limited under: an IPv4 address, or the /64 of an IPv6 one
// (a single subscriber gets at least a /64).
func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
