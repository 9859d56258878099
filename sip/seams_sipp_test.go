package sip_test

import (
	"context"
	"errors"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
)

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// TestDialAnswerAndHangup: the ACD seam. Dial rings 1002's contact; the SIPp callee rings,
// then answers; the leg carries its SDP answer; Hangup sends the BYE the callee waits for.
// The callee rings for a second as a phone does: a 180 sent in the same microseconds as the
// 200 may be read by another of the socket's readers and reach the transaction after the 200,
// which absorbs it (RFC 3261 §17.1.1.2) — nothing to report then (sip/sipgo/README.md).
func TestDialAnswerAndHangup(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_slow.xml", port)
	var progress []int
	var mu sync.Mutex
	leg, err := ts.Dial(context.Background(), sip.DialRequest{Extension: "1002", CallerID: "+15550100", SDP: []byte(offerSDP),
		Timeout: 10 * time.Second, OnProgress: func(code int, _ []byte) { mu.Lock(); progress = append(progress, code); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if len(leg.SDP()) == 0 || leg.Side() != sip.SideB {
		t.Fatalf("leg: side %c, sdp %q", leg.Side(), leg.SDP())
	}
	mu.Lock()
	if len(progress) == 0 || progress[0] != 180 {
		t.Errorf("progress %v, want 180 first", progress)
	}
	mu.Unlock()
	leg.Hangup(context.Background())
	<-leg.Done()
	b.wait(t)
}

// TestDialCancelAndErrors: cancelling the context CANCELs the ringing contact (its scenario
// requires the CANCEL) and Dial says "cancelled"; an unknown extension is not-found; an
// extension without contacts is unavailable.
func TestDialCancelAndErrors(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_ring.xml", port)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	_, err := ts.Dial(ctx, sip.DialRequest{Extension: "1002", SDP: []byte(offerSDP)})
	var de *sip.DialError
	if !errors.As(err, &de) || de.Cause != "cancelled" {
		t.Fatalf("cancelled dial: %v", err)
	}
	b.wait(t)
	for ext, cause := range map[string]string{"9999": "not-found", "1004": "unavailable"} {
		if _, err := ts.Dial(context.Background(), sip.DialRequest{Extension: ext}); !errors.As(err, &de) || de.Cause != cause {
			t.Errorf("dial %s: %v, want %s", ext, err, cause)
		}
	}
}

// TestDialBridge: two dialled legs bridged: the first callee's BYE ends the second leg with
// a BYE of ours (both scenarios require it).
func TestDialBridge(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	p1 := testenv.FreePort(t)
	p2 := testenv.FreePortExcept(t, p1)
	registerContact(t, ts, "1002", p1)
	registerContact(t, ts, "1003", p2)
	b1 := callee(t, "uas_bye.xml", p1)
	b2 := callee(t, "uas.xml", p2)
	l2, err := ts.Dial(context.Background(), sip.DialRequest{Extension: "1003", SDP: []byte(offerSDP)})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := ts.Dial(context.Background(), sip.DialRequest{Extension: "1002", SDP: []byte(offerSDP)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Bridge(l1, l2); err != nil {
		t.Fatal(err)
	}
	b1.wait(t)
	b2.wait(t)
	<-l2.Done()
}

// answeringApp answers every flow call with a fixed SDP and reports when the call ends.
type answeringApp struct {
	ended chan string
}

func (a *answeringApp) ServeCall(ctx context.Context, in *sip.Incoming) {
	if in.Dialled().Number.Flow != "main" || len(in.Offer()) == 0 {
		in.Reject(500, "unexpected call")
		return
	}
	in.Progress(180, nil)
	leg, err := in.Answer([]byte(offerSDP))
	if err != nil {
		a.ended <- "answer failed: " + err.Error()
		return
	}
	select {
	case <-leg.Done():
		a.ended <- "bye"
	case <-ctx.Done():
		a.ended <- "ctx"
	case <-time.After(20 * time.Second):
		a.ended <- "timeout"
	}
}

// TestAppAnswersFlowNumber: the IVR seam. A DID whose target is a flow goes to the App,
// which answers; the carrier's BYE ends the leg the App holds.
func TestAppAnswersFlowNumber(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.Numbers = append(cfg.Numbers, config.Number{DID: "+15550199", Flow: "main"})
	app := &answeringApp{ended: make(chan string, 1)}
	ts := startServer(t, cfg, "", md5Only, sip.WithApp(app))
	c := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550199", "-m", "1", "-d", "300"), ts.addr)[2:]...)
	c.wait(t)
	// The caller's BYE ends both the leg and ServeCall's ctx; either may be seen first.
	if got := <-app.ended; got != "bye" && got != "ctx" {
		t.Fatalf("app saw %q, want the call to end", got)
	}
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
}

// TestFlowNumberWithoutApp: without an App a flow number is 480, not a hang.
func TestFlowNumberWithoutApp(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.Numbers = append(cfg.Numbers, config.Number{DID: "+15550199", Flow: "main"})
	ts := startServer(t, cfg, "", md5Only)
	c := startSIPp(t, "carrier", append(sippArgs("uac_480_noauth.xml", carrier, "-s", "+15550199", "-m", "1"), ts.addr)...)
	c.wait(t)
}

// holdApp answers flow calls and answers the caller's re-INVITEs itself (OnInDialog).
type holdApp struct {
	got chan string
}

func (a *holdApp) ServeCall(ctx context.Context, in *sip.Incoming) {
	leg, err := in.Answer([]byte(offerSDP))
	if err != nil {
		return
	}
	leg.OnInDialog(func(method, contentType string, body []byte) (int, []byte) {
		select {
		case a.got <- method + " " + contentType:
		default:
		}
		return 200, []byte(strings.Replace(offerSDP, "a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:0 PCMU/8000\r\na=recvonly\r\n", 1))
	})
	select {
	case <-leg.Done():
	case <-ctx.Done():
	}
}

// TestAppAnswersInDialog: an App-owned (unbridged) leg answers the caller's re-INVITE
// through Leg.OnInDialog; the caller's scenario requires the a=recvonly answer.
func TestAppAnswersInDialog(t *testing.T) {
	cfg := testConfig()
	cfg.Numbers = []config.Number{{DID: "+15550199", Flow: "main"}}
	app := &holdApp{got: make(chan string, 1)}
	ts := startServer(t, cfg, "", md5Only, sip.WithApp(app))
	uac(t, ts, "uac_auth_reinvite.xml", "1001", "+15550199")
	if got := <-app.got; got != "INVITE application/sdp" {
		t.Fatalf("handler saw %q", got)
	}
}
