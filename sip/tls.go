package sip

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// SIP over TLS (RFC 3261 §26, RFC 5630), the certificate side:
//
//   - The listeners' certificate is held in an atomic pointer and handed out by
//     GetCertificate, so a reload (SIGHUP) changes what the next handshake presents without
//     touching a running listener or an established connection.
//   - With no sip.tls.cert/key (only allowed on loopback, `ccswitch check` says so), a
//     self-signed certificate is made once in the data folder (tls/cert.pem, tls/key.pem
//     0600) and reused across restarts, as Caddy does for local sites; it is remade only when
//     it expires within 30 days or does not name a listen address.
//   - Outbound TLS (trunks with transport tls) always verifies the carrier's certificate:
//     against the trunk's tls_ca, else the system roots, for the name tls_server_name, else
//     the host sipgo dialled (the trunk's outbound host). There is no switch to skip it.

// selfSignedValidity is how long a generated certificate is valid.
const selfSignedValidity = 2 * 365 * 24 * time.Hour

// certs holds the listeners' certificate.
type certs struct {
	cur atomic.Pointer[tls.Certificate]
	// files are the cert and key files the current certificate came from ("" when none).
	files atomic.Pointer[[2]string]
}

// load reads the certificate named by cfg, or makes/reuses the self-signed one in dataDir.
func (c *certs) load(cfg *config.Config, dataDir string) error {
	tc := cfg.SIP.TLS
	if len(tc.Listen) == 0 {
		return nil
	}
	var certFile, keyFile string
	if tc.Cert != "" {
		certFile, keyFile = cfg.Resolve("sip.tls.cert", tc.Cert), cfg.Resolve("sip.tls.key", tc.Key)
	} else {
		if dataDir == "" {
			return errors.New("sip: sip.tls has no cert and key, and there is no data folder for a self-signed certificate")
		}
		var err error
		certFile, keyFile, err = selfSigned(filepath.Join(dataDir, "tls"), tlsHosts(cfg), time.Now())
		if err != nil {
			return err
		}
	}
	pair, err := config.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("sip: tls: %w", err)
	}
	if pair.Leaf == nil && len(pair.Certificate) > 0 {
		pair.Leaf, _ = x509.ParseCertificate(pair.Certificate[0])
	}
	c.cur.Store(&pair)
	c.files.Store(&[2]string{certFile, keyFile})
	return nil
}

// get is tls.Config.GetCertificate (and GetClientCertificate's source).
func (c *certs) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p := c.cur.Load()
	if p == nil {
		return nil, errors.New("sip: no TLS certificate loaded")
	}
	return p, nil
}

// tlsHosts are the names a self-signed certificate covers: loopback, localhost, every TLS
// listen host and the advertised host.
func tlsHosts(cfg *config.Config) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	add := func(h string) {
		if h != "" && h != "0.0.0.0" && h != "::" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, a := range cfg.SIP.TLS.Listen {
		h, _, _ := net.SplitHostPort(a)
		add(h)
	}
	add(strings.Trim(cfg.SIP.PublicHost, "[]"))
	return hosts
}

// selfSigned returns the files of a self-signed certificate for hosts in dir, reusing the
// one there when it is valid for 30 more days and names every host.
func selfSigned(dir string, hosts []string, now time.Time) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if pair, err := config.LoadKeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil && now.Add(30*24*time.Hour).Before(leaf.NotAfter) && covers(leaf, hosts) {
			return certFile, keyFile, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return "", "", fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ccswitch (self-signed)", Organization: []string{"ccswitch"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that a phone can import it as its own trust anchor
	}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	// The key first, created 0600 (never world-readable, even for an instant), then the cert.
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func covers(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	_, err = f.Write(data)
	if err1 := f.Sync(); err == nil {
		err = err1
	}
	if err1 := f.Close(); err == nil {
		err = err1
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sip: self-signed certificate: %w", err)
	}
	return nil
}

// serverTLS is the listeners' TLS configuration.
func (c *certs) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.get,
	}
}

// outboundPolicy is how one trunk's certificate is verified.
type outboundPolicy struct {
	trunk      string
	addr       string // host:port dialled
	caFile     string
	roots      *x509.CertPool // nil: the system roots
	serverName string         // "" = the name dialled
}

// outboundPolicies maps a dialled host (the trunk's outbound host, as sipgo passes it as the
// TLS server name) to its trunk's policy.
type outboundPolicies map[string]outboundPolicy

func compileOutbound(cfg *config.Config) (outboundPolicies, error) {
	m := outboundPolicies{}
	for i, t := range cfg.Trunks {
		if strings.ToLower(t.Transport) != "tls" || t.Outbound == "" {
			continue
		}
		u, err := parseOutbound(t.Outbound)
		if err != nil {
			return nil, fmt.Errorf("sip: trunks[%d].outbound %q: %w", i, t.Outbound, err)
		}
		port := u.Port
		if port == 0 {
			port = gsip.DefaultTlsPort
		}
		p := outboundPolicy{trunk: t.Name, serverName: t.TLSServerName, caFile: t.TLSCA, addr: net.JoinHostPort(strings.Trim(u.Host, "[]"), fmt.Sprint(port))}
		if t.TLSCA != "" {
			p.roots, err = config.LoadCAPool(cfg.Resolve(fmt.Sprintf("trunks[%d].tls_ca", i), t.TLSCA))
			if err != nil {
				return nil, fmt.Errorf("sip: trunks[%d].tls_ca: %w", i, err)
			}
		}
		m[strings.Trim(u.Host, "[]")] = p
	}
	return m, nil
}

// changed reports the dialled addresses whose verification policy differs in next: their
// open connections were verified under the old one.
func (old outboundPolicies) changed(next outboundPolicies) []string {
	var out []string
	for host, o := range old {
		n, ok := next[host]
		if !ok || n.trunk != o.trunk || n.serverName != o.serverName || n.caFile != o.caFile || !sameRoots(o.roots, n.roots) {
			out = append(out, o.addr)
		}
	}
	return out
}

func sameRoots(a, b *x509.CertPool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// clientTLS is the TLS configuration sipgo dials with. sipgo sets ServerName to the host it
// dials (a trunk's outbound host); verification is ours (verifyPeer), so that each trunk can
// name its own CA and server name. InsecureSkipVerify only turns off crypto/tls's built-in
// check, which VerifyConnection replaces: every handshake is still verified.
func (e *streams) clientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection:   e.verifyPeer,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if p := e.certs.cur.Load(); p != nil {
				return p, nil
			}
			return &tls.Certificate{}, nil // none: the carrier decides
		},
	}
}

// verifyPeer verifies a carrier's certificate chain and name; a failure is counted, logged
// once a minute per trunk, and fails the handshake (the call gets no route through it).
//
// crypto/tls names the dialled host only when it is a DNS name (an IP is not sent as SNI,
// and sipgo gives the callback nothing else): then the trunk of that host decides. When a
// trunk's host is an IP, the certificate must verify under the policy of one of the trunks
// whose host is an IP — its CA and its IP (or tls_server_name). With one such trunk that is
// exact; with several, a carrier holding one of their certificates could stand in for
// another only from inside that other's network path.
func (e *streams) verifyPeer(cs tls.ConnectionState) error {
	pols := *e.outbound.Load()
	var cands []outboundPolicy
	if cs.ServerName != "" {
		p, ok := pols[cs.ServerName]
		if !ok {
			p = outboundPolicy{trunk: "(none)"}
		}
		if p.serverName == "" {
			p.serverName = cs.ServerName
		}
		cands = append(cands, p)
	} else {
		for host, p := range pols {
			if _, err := netip.ParseAddr(host); err == nil {
				if p.serverName == "" {
					p.serverName = host
				}
				cands = append(cands, p)
			}
		}
	}
	trunk := "(none)"
	if len(cands) == 1 {
		trunk = cands[0].trunk
	}
	err := errors.New("no trunk dials this address over TLS")
	for _, p := range cands {
		if err = verifyChain(cs.PeerCertificates, p.roots, p.serverName); err == nil {
			return nil
		}
	}
	e.m.tlsVerifyFailures.WithLabelValues(trunk).Inc()
	e.rl.Warn("tls-verify|"+trunk, "outbound TLS: carrier certificate refused", "trunk", trunk, "server_name", cs.ServerName, "error", err)
	return fmt.Errorf("sip: outbound TLS: %w", err)
}

func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, name string) error {
	if len(chain) == 0 {
		return errors.New("no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err
}

// isTLS reports whether a message's transport is TLS.
func isTLS(transport string) bool { return strings.EqualFold(transport, "tls") }

// isStream reports whether a transport is connection-oriented (TCP, TLS; WS ones too).
func isStream(transport string) bool {
	return transport != "" && gsip.IsReliable(transport)
}

// buildTLS makes the client and dialog user agents of the first TLS listener, and routes
// the stream clients' requests through flowRequester (connection reuse).
func (s *Server) buildTLS(ua *sipgo.UserAgent, host string, tlsLns []*net.TCPListener, log *slog.Logger) error {
	s.streams.ua.Store(ua)
	req := flowRequester{s: s, ua: ua}
	if s.tcpCli != nil {
		s.tcpCli.TxRequester = req
	}
	if len(tlsLns) == 0 {
		return nil
	}
	la := tlsLns[0].Addr().(*net.TCPAddr)
	port := la.Port
	// sip.public_host when it fits the listener's family, else the TLS listener's own address
	// (it may be v6 while UDP is v4), else the server's host.
	host = advertisedHost(s.cfg.Load().SIP.PublicHost, la.IP.String(), host)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(host))
	if err != nil {
		return fmt.Errorf("sip: client: %w", err)
	}
	cli.TxRequester = req
	s.tlsCli = cli
	contact := gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "ccswitch", Host: host, Port: port, UriParams: gsip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tls")
	s.tlsUA = &sipgo.DialogUA{Client: cli, RewriteContact: true, ContactHDR: contact}
	s.sipsUA = &sipgo.DialogUA{Client: cli, RewriteContact: true, ContactHDR: gsip.ContactHeader{Address: gsip.Uri{Scheme: "sips", User: "ccswitch", Host: host, Port: port}}}
	return nil
}
