package sip_test

import (
	"os"
	"testing"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

func TestMain(m *testing.M) {
	// As cmd/ccswitch should: sipgo refuses any UDP write above UDPMTUSize-200 bytes
	// (responses included), which drops the answer to a long request (RFC 4475 longreq).
	gsip.UDPMTUSize = 65535 + 200
	os.Exit(m.Run())
}
