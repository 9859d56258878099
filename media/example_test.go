package media_test

import (
	"fmt"
	"net/netip"

	"github.com/ccswitch/ccswitch/media"
)

func ExampleParseDTMFInfo() {
	ev, err := media.ParseDTMFInfo("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	fmt.Println(string(ev.Digit), ev.Duration, ev.Source, err)
	// Output: 5 160ms info <nil>
}

// A B2BUA anchoring a call: the caller offers PCMU only, the callee answers PCMA, so ccswitch
// transcodes between the legs.
func ExampleCall_OfferFromA() {
	eng, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 23000, PortMax: 23099})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	call, _ := eng.NewCall(media.CallOptions{ID: "example"})
	defer call.Close()

	sdpA := "v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	offerB, err := call.OfferFromA([]byte(sdpA)) // send in the INVITE to B
	fmt.Println(len(offerB) > 0, err)

	sdpB := "v=0\r\no=b 7 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n" +
		"m=audio 5000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	answerA, err := call.AnswerFromB([]byte(sdpB)) // send in the 200 OK to A
	fmt.Println(len(answerA) > 0, err)
	fmt.Println("A:", call.Codec(media.LegA), "B:", call.Codec(media.LegB))
	// Output:
	// true <nil>
	// true <nil>
	// A: PCMU B: PCMA
}
