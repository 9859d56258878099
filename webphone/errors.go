package webphone

import "errors"

var (
	// ErrNoExtension: the agent has no extension, or the extension no secret.
	ErrNoExtension = errors.New("webphone: the agent has no extension with a secret")
	// ErrNoSIP: ccswitch has no UDP SIP listener for the browser phones to register on.
	ErrNoSIP = errors.New("webphone: no UDP SIP listener")
	// errBadSDP: the SIP side's SDP names no usable G.711 audio.
	errBadSDP = errors.New("webphone: SDP without G.711 audio")
)
