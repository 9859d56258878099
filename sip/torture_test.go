package sip_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tortureDir is RFC 4475's messages as shipped in the sipgo module.
func tortureDir(t testing.TB) string {
	t.Helper()
	// RFC 4475's messages, as upstream sipgo's tests keep them, in our fork (sip/sipgo).
	return filepath.Join("sipgo", "sip", "testdata", "torture")
}

// tortureAnswers is what ccswitch answers to each RFC 4475 message (0: dropped unanswered).
// Messages sipgo cannot parse are answered 400 (416 for an unknown Request-URI scheme) by
// the read path (readpath.go) when they carry the headers a response needs.
// Valid INVITEs and REGISTERs are answered 407/401 because nobody is authenticated; that
// is the right answer of a B2BUA that is no open relay.
var tortureAnswers = map[string]int{
	// §3.1.1 valid messages
	"valid/dblreq":     401, // REGISTER then an INVITE in one datagram: the first is handled
	"valid/esc01":      407,
	"valid/esc02":      501, // method RE%47IST%45R is an unknown method
	"valid/escnull":    401,
	"valid/intmeth":    501,
	"valid/longreq":    407, // needs UDPMTUSize raised (see TestMain)
	"valid/lwsdisp":    200,
	"valid/mpart01":    405, // MESSAGE is not ours
	"valid/noreason":   0,   // a response: nothing to answer
	"valid/semiuri":    200,
	"valid/transports": 200,
	"valid/unreason":   0,   // a 2xx nobody asked for: dropped, not ACKed (no reflection)
	"valid/wsinv":      481, // its To has a tag: an in-dialog INVITE for no dialog of ours (LWS normalised)
	// §3.1.2 invalid messages
	"invalid/badaspec":   400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/badbranch":  200,
	"invalid/baddate":    407, // a bad Date is ignored
	"invalid/baddn":      400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/badinv01":   400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/badvers":    505,
	"invalid/bcast":      0, // a response
	"invalid/bext01":     420,
	"invalid/bigcode":    0,
	"invalid/clerr":      400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/cparam01":   401, // authentication comes before binding
	"invalid/cparam02":   401,
	"invalid/escruri":    400,
	"invalid/insuf":      400,
	"invalid/inv2543":    407, // RFC 2543 (no branch, no From tag): given a transaction, then challenged
	"invalid/invut":      415,
	"invalid/ltgtruri":   400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/lwsruri":    400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/lwsstart":   400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/mcl01":      400,
	"invalid/mismatch01": 400,
	"invalid/mismatch02": 501,
	"invalid/multi01":    400,
	"invalid/ncl":        400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/novelsc":    416, // soap.beep: Request-URI, which sipgo cannot parse (readpath.go)
	"invalid/quotbal":    400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/regaut01":   401,
	"invalid/regbadct":   401,
	"invalid/regescrt":   401,
	"invalid/scalar02":   400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/scalarlg":   0,
	"invalid/sdp01":      406,
	"invalid/test":       0,
	"invalid/trws":       400, // unparsable: answered by the parse-failure path (readpath.go)
	"invalid/unkscm":     416,
	"invalid/unksm2":     400, // the AOR (To) of a REGISTER must be a SIP URI
	"invalid/zeromf":     200, // OPTIONS to us with Max-Forwards 0: an endpoint answers
}

// TestTortureRFC4475 sends every RFC 4475 message over UDP to a running Server and checks
// the answer (or the deliberate silence), then that the server still answers OPTIONS.
func TestTortureRFC4475(t *testing.T) {
	dir := tortureDir(t)
	ts := startServer(t, testConfig(), "")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
	if len(files) != len(tortureAnswers) {
		t.Errorf("%d torture files, %d expectations", len(files), len(tortureAnswers))
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".dat")
		want, ok := tortureAnswers[name]
		if !ok {
			t.Errorf("%s: no expectation", name)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := exchange(t, ts.addr, data, want == 0); got != want {
			t.Errorf("%s: answered %d, want %d", name, got, want)
		}
	}
	opts := "OPTIONS sip:ccswitch@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-alive\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ccswitch@127.0.0.1>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if got := exchange(t, ts.addr, []byte(opts), false); got != 200 {
		t.Fatalf("server no longer answers OPTIONS: %d", got)
	}
}

var statusLine = regexp.MustCompile(`^SIP/2\.0 ([0-9]{3}) `)

// exchange sends one datagram (its top Via pointed at our socket) and returns the first
// final status answered, 0 if none. A drop is waited for briefly; an answer up to 5 s.
func exchange(t testing.TB, addr string, data []byte, expectDrop bool) int {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(rewriteVia(data, c.LocalAddr().String())); err != nil {
		t.Fatal(err)
	}
	wait := 5 * time.Second
	if expectDrop {
		wait = 300 * time.Millisecond
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0
		}
		m := statusLine.FindSubmatch(buf[:n])
		if m == nil || string(m[1]) == "100" {
			continue // a provisional, or a request (ACK/BYE) — keep reading
		}
		code := 0
		for _, d := range m[1] {
			code = code*10 + int(d-'0')
		}
		return code
	}
}

// viaRE matches the first Via's sent-by, LWS and line folding included (RFC 4475 wsinv
// folds its first Via over three lines).
var viaRE = func() *regexp.Regexp {
	lws := `(?:[ \t]|\r\n[ \t])*`
	return regexp.MustCompile(`(?i)(\r\n(?:via|v)` + lws + `:` + lws + `SIP` + lws + `/` + lws + `[0-9.]+` + lws + `/` + lws + `[A-Za-z]+(?:[ \t]|\r\n[ \t])+)([^;,\s]+)`)
}()

// rewriteVia points the first Via's sent-by at addr, so that responses (sent to the Via
// port, RFC 3261 §18.2.2) reach the test socket. Nothing else in the message changes.
func rewriteVia(data []byte, addr string) []byte {
	re := viaRE
	done := false
	return re.ReplaceAllFunc(data, func(m []byte) []byte {
		if done {
			return m
		}
		done = true
		sub := re.FindSubmatch(m)
		return append(append([]byte{}, sub[1]...), addr...)
	})
}
