package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// TLS is SIP over TLS (RFC 3261 §26, RFC 5630): where ccswitch listens for it and with which
// certificate.
type TLS struct {
	// Listen lists host:port addresses for SIP over TLS ("127.0.0.1:5061", "[::1]:5061").
	// Empty: no TLS listener.
	Listen []string `yaml:"listen"`
	// Cert and Key are PEM files (the certificate chain, leaf first, and its private key),
	// relative to the config file's folder. Both empty: a self-signed certificate is made
	// at first start and kept in the data folder (tls/cert.pem, tls/key.pem), which is
	// allowed only while every listen address is loopback. Files are re-read on SIGHUP; a
	// running listener presents the new certificate to the next handshake.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// HandshakeTimeout bounds a TLS handshake on an accepted connection (default 10s).
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
}

// Connections bounds the TCP and TLS connections peers open to ccswitch. Connections from a
// trunk's configured sources are exempt from both bounds.
type Connections struct {
	// MaxPerSource is the most TCP plus TLS connections one source IP may hold open at once
	// (default 100: an office of phones behind one NAT address shares it). Further
	// connections are closed as soon as they are accepted, counted and logged.
	MaxPerSource int `yaml:"max_per_source"`
	// IdleTimeout closes a connection that carries no registration after this long without
	// a byte from the peer (default 60s). A connection a REGISTER bound a contact to lives as
	// long as that binding, however quiet.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Defaults of the stream transports.
const (
	DefaultTLSHandshakeTimeout = 10 * time.Second
	DefaultMaxConnsPerSource   = 100
	DefaultConnIdleTimeout     = 60 * time.Second
)

// applyStreamDefaults fills the TLS and connection settings and the trunks' TLS defaults.
func (c *Config) applyStreamDefaults() {
	setDuration(&c.SIP.TLS.HandshakeTimeout, DefaultTLSHandshakeTimeout)
	if c.SIP.Connections.MaxPerSource == 0 {
		c.SIP.Connections.MaxPerSource = DefaultMaxConnsPerSource
	}
	setDuration(&c.SIP.Connections.IdleTimeout, DefaultConnIdleTimeout)
	for i := range c.Trunks {
		t := &c.Trunks[i]
		if t.Transport == "" && t.anySIPS() {
			t.Transport = "tls" // a sips: destination is only reached over TLS
		}
	}
}

// Resolve returns p as a path: unchanged when absolute, else relative to the folder of the
// config file that set field (a field path such as "sip.tls.cert"), or to c.Dir.
func (c *Config) Resolve(field, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if c.Dir != "" {
		return filepath.Join(c.Dir, p)
	}
	if pos, ok := c.Sources[field]; ok && pos.File != "" {
		return filepath.Join(filepath.Dir(pos.File), p)
	}
	return p
}

// LoadKeyPair reads a PEM certificate chain and its key, and checks that they belong
// together. Its errors name what is wrong in operator's terms.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read key: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM CERTIFICATE block", certFile)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM PRIVATE KEY block", keyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, fmt.Errorf("key %s does not match certificate %s", keyFile, certFile)
		}
		return tls.Certificate{}, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	return pair, nil
}

// LoadCAPool reads a PEM bundle of CA certificates.
func LoadCAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE in it", file)
	}
	return pool, nil
}

// tls validates sip.tls, sip.connections and the TLS parts of users and trunks.
func (v *validator) tls() {
	c := v.c
	s := c.SIP.TLS
	for i, a := range s.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.failAt(fmt.Sprintf("sip.tls.listen[%d]", i), "want host:port such as 127.0.0.1:5061, got %q", a)
		} else if _, port, _ := net.SplitHostPort(a); port != "0" && slices.Contains(c.SIP.TCP, a) {
			v.failAt(fmt.Sprintf("sip.tls.listen[%d]", i), "%q is also a sip.tcp address: TLS needs its own port (5061 by convention)", a)
		}
	}
	switch {
	case (s.Cert == "") != (s.Key == ""):
		v.failAt("sip.tls", "cert and key go together")
	case s.Cert != "":
		if _, err := LoadKeyPair(c.Resolve("sip.tls.cert", s.Cert), c.Resolve("sip.tls.key", s.Key)); err != nil {
			v.failAt("sip.tls.cert", "%v", err)
		}
	case len(s.Listen) > 0:
		for i, a := range s.Listen {
			if !loopbackHost(a) {
				v.failAt(fmt.Sprintf("sip.tls.listen[%d]", i), "%q is not loopback: give sip.tls.cert and sip.tls.key (a self-signed certificate is made only for loopback listeners)", a)
			}
		}
	}
	if c.SIP.Connections.MaxPerSource < 0 {
		v.failAt("sip.connections.max_per_source", "want a positive number, got %d", c.SIP.Connections.MaxPerSource)
	}
	hasTLS := len(s.Listen) > 0
	for i, u := range c.Users {
		p := fmt.Sprintf("users[%d]", i)
		if u.RequireTLS && !hasTLS {
			v.failAt(p+".require_tls", "extension %q requires TLS but sip.tls.listen is empty", u.Extension)
		}
		if u.RequireTLS && u.Contact != "" && !secureURI(u.Contact) {
			v.failAt(p+".contact", "extension %q requires TLS: its static contact must be sips: or carry transport=tls", u.Extension)
		}
	}
	for i, t := range c.Trunks {
		p := fmt.Sprintf("trunks[%d]", i)
		if t.anySIPS() && t.Transport != "tls" {
			v.failAt(p+".transport", "a sips: destination is reached over TLS only, got transport %q", t.Transport)
		}
		if t.RequireTLS && t.HasOutbound() && t.Transport != "tls" {
			v.failAt(p+".transport", "trunk %q requires TLS: want transport tls, got %q", t.Name, t.Transport)
		}
		if t.RequireTLS && len(t.Sources) > 0 && !hasTLS && !t.HasOutbound() {
			v.failAt(p+".require_tls", "trunk %q requires TLS but sip.tls.listen is empty", t.Name)
		}
		if t.TLSCA != "" {
			if t.Transport != "tls" {
				v.failAt(p+".tls_ca", "tls_ca is for transport tls, got %q", t.Transport)
			}
			if _, err := LoadCAPool(c.Resolve(p+".tls_ca", t.TLSCA)); err != nil {
				v.failAt(p+".tls_ca", "%v", err)
			}
		}
		if t.TLSServerName != "" && t.Transport != "tls" {
			v.failAt(p+".tls_server_name", "tls_server_name is for transport tls, got %q", t.Transport)
		}
	}
}

// secureURI reports whether a URI may only be reached over TLS: sips: or transport=tls.
func secureURI(u string) bool {
	return strings.HasPrefix(u, "sips:") || strings.Contains(strings.ToLower(u), ";transport=tls")
}

// loopbackHost reports whether a host:port listens on loopback only.
func loopbackHost(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// TrunkTransports are the transports a trunk may use outbound.
var TrunkTransports = []string{"udp", "tcp", "tls"}
