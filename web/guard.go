package web

import (
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/config"
)

// edge is what the front of the server takes from http: in the configuration.
type edge struct {
	hosts     map[string]bool // lower case, no brackets, no trailing dot; "host:port" for entries with a port
	proxies   []netip.Prefix
	secureURL bool // public_url is https
}

func newEdge(h config.HTTP) edge {
	e := edge{hosts: map[string]bool{}, proxies: h.Proxies(), secureURL: h.SecurePublicURL()}
	for _, s := range h.AllowedHosts() {
		host, port := splitHost(s)
		if port != "" {
			e.hosts[host+":"+port] = true
		} else {
			e.hosts[host] = true
		}
	}
	return e
}

// splitHost splits a Host header (or a hosts entry) into its normalised name and port.
func splitHost(h string) (host, port string) {
	h = strings.ToLower(h)
	host = h
	if hh, p, err := net.SplitHostPort(h); err == nil {
		host, port = hh, p
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	return host, port
}

// hostAllowed reports whether a request's Host names this server (invariant 1 in doc.go).
func (e edge) hostAllowed(h string) bool {
	host, port := splitHost(h)
	if host == "" {
		return false
	}
	return e.hosts[host] || (port != "" && e.hosts[host+":"+port])
}

func (e edge) trusted(a netip.Addr) bool {
	for _, p := range e.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// source is the client's address: the peer's, or, when the peer is a trusted proxy, the
// nearest address in X-Forwarded-For that is not one of the trusted proxies.
func (e edge) source(r *http.Request) netip.Addr {
	addr := remoteAddr(r)
	if !e.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = a.Unmap()
		if !e.trusted(addr) {
			return addr
		}
	}
	return addr
}

// sourceKey is what limits count per source: the address, an IPv6 one per /64.
func (e edge) sourceKey(r *http.Request) string {
	a := e.source(r)
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// secure reports whether the browser reached us over TLS: directly, through public_url
// https, or as a trusted proxy's X-Forwarded-Proto says.
func (e edge) secure(r *http.Request) bool {
	if r.TLS != nil || e.secureURL {
		return true
	}
	if !e.trusted(remoteAddr(r)) {
		return false
	}
	v := r.Header.Values("X-Forwarded-Proto")
	if len(v) == 0 {
		return false
	}
	parts := strings.Split(v[len(v)-1], ",")
	return strings.EqualFold(strings.TrimSpace(parts[len(parts)-1]), "https")
}

// Content-Security-Policy of every response. The web chat demo page embeds the widget, which
// styles itself with a <style> element: it alone allows inline styles.
const (
	cspStrict = "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	cspChat = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

func securityHeaders(w http.ResponseWriter, p string) {
	h := w.Header()
	csp := cspStrict
	if strings.HasPrefix(p, "/chat/") {
		csp = cspChat
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

// front is the first handler of every request: security headers, the Host allow-list,
// WebSocket upgrades freed from the server's read and write timeouts.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w, r.URL.Path)
		e := s.model.Load().edge
		if !e.hostAllowed(r.Host) {
			s.refused.WithLabelValues("host").Inc()
			s.rlog.Warn("host|"+e.sourceKey(r), "web request for a host not in http.hosts refused",
				"source", e.source(r).String(), "host", r.Host)
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": "unknown host"})
			return
		}
		if r.Header.Get("Upgrade") != "" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			// A socket lives longer than a request: its own pings and deadlines bound it.
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Time{})
			rc.SetWriteDeadline(time.Time{})
		}
		next.ServeHTTP(w, r)
	})
}

// assetFiles serves the embedded assets, files only: a folder is 404, never a listing.
func assetFiles(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		if name == "" || strings.HasSuffix(name, "/") {
			http.NotFound(w, r)
			return
		}
		if fi, err := fs.Stat(static, path.Clean(name)); err != nil || fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
