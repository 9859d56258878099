package config

import "slices"

// WebRTC is the agents' browser phone: the desktop's WebSocket carries its signalling and
// ccswitch terminates its media (ICE-lite, DTLS-SRTP, PCMU/PCMA) on one UDP port for every
// browser, advertised as media.public_ip (else media.ip).
type WebRTC struct {
	// Port is the one UDP port of every browser leg (ICE, DTLS and SRTP share it); 0 (the
	// default) turns the browser phone off. It binds on media.ip.
	Port int `yaml:"port"`
}

// Devices are the values of agents[].device.
var Devices = []string{"phone", "browser"}

func (c *Config) webrtcDefaults() {
	for i := range c.Agents {
		setString(&c.Agents[i].Device, "phone")
	}
}

func (v *validator) webrtc() {
	if p := v.c.WebRTC.Port; p != 0 && (p < 1024 || p > 65535) {
		v.failAt("webrtc.port", "want 0 (off) or a UDP port within 1024-65535, got %d", p)
	}
}

func (v *validator) agentDevice(path string, a Agent) {
	switch {
	case !slices.Contains(Devices, a.Device):
		v.failAt(path+".device", "want phone or browser, got %q", a.Device)
	case a.Device == "browser" && v.c.WebRTC.Port == 0:
		v.failAt(path+".device", "browser needs the browser phone on (webrtc.port)")
	case a.Device == "browser" && a.Extension == "":
		v.failAt(path+".device", "browser needs an extension (the browser phone registers as it)")
	}
}
