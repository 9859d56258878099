package sip

import "errors"

// errOutOfOrder: an in-dialog request with a CSeq lower than the last one (RFC 3261
// §12.2.2): answered 500.
var errOutOfOrder = errors.New("sip: in-dialog request: CSeq out of order")
