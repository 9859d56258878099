package registrar

import (
	"fmt"
	"testing"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// registerTLSFrom registers contact for 1001 over TLS from source (a phone's connection).
func (f *fixture) registerTLSFrom(source, callID string, cseq int, contact string) {
	f.t.Helper()
	msg := "REGISTER sips:ccswitch SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.9:5061;branch=z9hG4bK" + callID + fmt.Sprint(cseq) + "\r\n" +
		"From: <sip:1001@ccswitch>;tag=a\r\nTo: <sip:1001@ccswitch>\r\nCall-ID: " + callID + "\r\n" +
		fmt.Sprintf("CSeq: %d REGISTER\r\n", cseq) + "Contact: <" + contact + ">;expires=600\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(msg))
	if err != nil {
		f.t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource(source)
	req.SetTransport("TLS")
	if res := f.r.Register(req, "1001"); res.StatusCode != 200 {
		f.t.Fatalf("register: %d", res.StatusCode)
	}
}

// TestRemoveFlow: a closed flow removes the binding it carries (flow-closed event), but not
// one the phone has meanwhile moved to a new connection, nor a binding it never carried.
func TestRemoveFlow(t *testing.T) {
	const contact = "sip:1001@192.0.2.9:5061;transport=tls"
	cases := []struct {
		name        string
		moveTo      string // the same contact re-registered from here before the close
		closed      string // the flow that closes
		contact     string
		wantRemoved bool
	}{
		{"its own flow", "", "198.51.100.7:40001", contact, true},
		{"moved to a new connection", "198.51.100.7:40002", "198.51.100.7:40001", contact, false},
		{"the new connection closes", "198.51.100.7:40002", "198.51.100.7:40002", contact, true},
		{"another contact", "", "198.51.100.7:40001", "sip:1001@192.0.2.9:5999;transport=tls", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.registerTLSFrom("198.51.100.7:40001", "c1", 1, contact)
			if tc.moveTo != "" {
				f.registerTLSFrom(tc.moveTo, "c1", 2, contact)
			}
			var reasons []string
			cancel := f.r.Subscribe(func(ev Event) {
				if ev.Kind == Unbound {
					reasons = append(reasons, ev.Reason)
				}
			})
			defer cancel()
			got := f.r.RemoveFlow("1001", tc.contact, tc.closed, ReasonFlowClosed)
			if got != tc.wantRemoved {
				t.Fatalf("RemoveFlow = %v, want %v", got, tc.wantRemoved)
			}
			left := len(f.r.Lookup("1001"))
			if tc.wantRemoved {
				if left != 0 || fmt.Sprint(reasons) != "[flow-closed]" {
					t.Errorf("after removal: %d bindings, events %v", left, reasons)
				}
				if bs, _ := f.st.Bindings(); len(bs) != 0 {
					t.Errorf("store keeps %d bindings", len(bs))
				}
			} else if left != 1 || len(reasons) != 0 {
				t.Errorf("kept: %d bindings, events %v", left, reasons)
			}
		})
	}
}
