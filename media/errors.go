package media

import "errors"

// Sentinels callers branch on. Other errors are wrapped as "media: op: detail: %w".
var (
	// ErrNoCommonCodec means an offer or answer has no PCMU/PCMA audio stream ccswitch can use:
	// the B2BUA answers 488 Not Acceptable Here.
	ErrNoCommonCodec = errors.New("media: no common codec (PCMU/PCMA)")
	// ErrSRTPRequired means a leg whose policy is SRTPRequired offered (or answered) no SRTP
	// line with a usable a=crypto: the B2BUA answers 488.
	ErrSRTPRequired = errors.New("media: SRTP required but not offered")
	// ErrNoCommonCrypto means SRTP lines were offered but none has a crypto suite ccswitch
	// speaks (AES_CM_128_HMAC_SHA1_80 or _32, one inline key, no MKI), an answer did not take
	// ccswitch's crypto, or SRTP is off for the leg and nothing else was offered: 488.
	ErrNoCommonCrypto = errors.New("media: no usable SRTP crypto")
	// ErrBadSDP means the body is not parseable SDP or lacks what offer/answer needs.
	ErrBadSDP = errors.New("media: bad SDP")
	// ErrNoPendingOffer means an answer arrived with no offer outstanding in that direction.
	ErrNoPendingOffer = errors.New("media: no pending offer")
	// ErrOfferPending means a new offer arrived while another is outstanding (SIP answers 491).
	ErrOfferPending = errors.New("media: offer already pending")
	// ErrNoPorts means the RTP port range is exhausted (SIP answers 503).
	ErrNoPorts = errors.New("media: RTP port range exhausted")
	// ErrClosed means the call or engine was closed.
	ErrClosed = errors.New("media: closed")
	// ErrNoLeg means the leg has no negotiated media yet (nothing to play to or send DTMF on).
	ErrNoLeg = errors.New("media: leg not negotiated")
	// ErrBadWAV means a prompt file is not an 8 kHz 16-bit mono PCM WAV.
	ErrBadWAV = errors.New("media: unsupported WAV")
	// ErrMonitored means the call already has a supervisor joined (one monitor per call).
	ErrMonitored = errors.New("media: call already monitored")
	// ErrBadMode means a monitor mode other than Listen, Whisper or Barge.
	ErrBadMode = errors.New("media: unknown monitor mode")
	// ErrBadDTMF means a SIP INFO DTMF body or digit is not understood.
	ErrBadDTMF = errors.New("media: bad DTMF")
)
