package config

import "time"

// Config is the operator's whole model, as decoded from one YAML file (or a folder of them)
// and completed by ApplyDefaults. Every field is plain data: the packages that run ccswitch
// (sip, media, ivr, acd, channels) read it; none of them writes it.
type Config struct {
	SIP     SIP      `yaml:"sip"`
	Media   Media    `yaml:"media"`
	HTTP    HTTP     `yaml:"http"`
	Users   []User   `yaml:"users"`
	Trunks  []Trunk  `yaml:"trunks"`
	Numbers []Number `yaml:"numbers"`
	Flows   []Flow   `yaml:"flows"`
	Skills  []Skill  `yaml:"skills"`
	// Profiles are named sets of skills that agents take by name.
	Profiles []Profile `yaml:"profiles"`
	Queues   []Queue   `yaml:"queues"`
	Agents   []Agent   `yaml:"agents"`
	// Channels are the text adapters (config/channels.go); a present section enables one.
	Channels TextChannels `yaml:"channels"`
	// CRM is the customer lookup shown on the agent's card (config/integrations.go).
	CRM CRM `yaml:"crm"`
	// Webhooks receive signed events of calls and conversations (config/integrations.go).
	Webhooks []Webhook `yaml:"webhooks"`
	// CallRecords: where completed call records are exported (config/records.go).
	CallRecords CallRecords `yaml:"call_records"`
	// WebRTC is the agents' browser phone (config/webrtc.go).
	WebRTC WebRTC `yaml:"webrtc"`
	// Wallboard: the thresholds the supervisors' wallboard colours (config/wallboard.go).
	Wallboard Wallboard `yaml:"wallboard"`
	// Callback is the policy of the numbers called back (config/callback.go).
	Callback Callback `yaml:"callback"`

	// Sources maps a field path ("users[2].secret") to where it was written, for messages
	// that come after decoding (a DID that failed to route, a secret that failed to expand).
	Sources map[string]Pos `yaml:"-"`
	// Dir is the folder relative paths (prompts, recordings) are taken from; "" means the
	// working directory (the embedded default config).
	Dir string `yaml:"-"`
}

// Pos is a place in a config file.
type Pos struct {
	File         string
	Line, Column int
}

// SIP is the signalling side: where ccswitch listens and how it names itself.
type SIP struct {
	// UDP and TCP list host:port addresses to listen on. The default is 127.0.0.1:5060 for both.
	UDP []string `yaml:"udp"`
	TCP []string `yaml:"tcp"`
	// Realm is the digest-authentication realm (default "ccswitch").
	Realm string `yaml:"realm"`
	// PublicHost is the host (DNS name or IP, no port) written into Via and Contact when
	// phones and carriers reach ccswitch at another address than it listens on (a cloud VM
	// behind 1:1 NAT). An IP applies to the listeners of its family (an IPv4 public_host
	// leaves an IPv6 listener's own address in place); a DNS name applies to all. Default:
	// each listener's own host.
	PublicHost string `yaml:"public_host"`
	// UserAgent is the User-Agent and Server header value (default "ccswitch").
	UserAgent string `yaml:"user_agent"`
	// Registration bounds: Expires outside [MinExpires, MaxExpires] is answered 423 or clamped.
	MinExpires     Duration `yaml:"min_expires"`     // default 60s
	MaxExpires     Duration `yaml:"max_expires"`     // default 3600s
	DefaultExpires Duration `yaml:"default_expires"` // default 3600s
	// NonceTTL is how long a digest nonce stays valid before a stale=true challenge (default 5m).
	NonceTTL Duration `yaml:"nonce_ttl"`
	// NonceSecret keys the stateless HMAC nonces; empty means a random one per start (nonces
	// then do not survive a restart, which only costs clients one extra challenge).
	NonceSecret string `yaml:"nonce_secret"`
	// DigestAlgorithms are the digest challenges offered, most preferred first (default
	// SHA-256 then MD5, RFC 8760). Clients that read only the first challenge and know only
	// MD5 (SIPp 3.6, sipsak, older phones) need MD5 first.
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// RingTimeout bounds how long an extension is rung before 480 (default 60s).
	RingTimeout Duration `yaml:"ring_timeout"`
	// SessionExpires is the session interval (RFC 4028 session timers) of calls whose parties
	// support timers: the 2xx to a caller that asks for timers, and every INVITE ccswitch sends,
	// carry it; a leg not refreshed (re-INVITE or UPDATE) in time is ended with BYE, and
	// ccswitch refreshes at half the interval where it is the refresher (default 30m).
	SessionExpires Duration `yaml:"session_expires"`
	// MinSE is the shortest session interval accepted: a shorter Session-Expires gets 422 with
	// Min-SE (default, and least, 90s).
	MinSE Duration `yaml:"min_se"`
	// Limits are the abuse limits: messages per source address, calls per extension and
	// trunk, destinations and daily minutes (see Limits).
	Limits Limits `yaml:"limits"`
	// Emergency are the emergency numbers (default 112 and 911): any extension that
	// authenticates reaches them through EmergencyTrunk, whatever its outbound right,
	// destination rules and limits. Dialled exactly as written.
	Emergency []string `yaml:"emergency"`
	// EmergencyTrunk carries emergency calls (default: the first trunk with an outbound
	// destination); when it is down, the other outbound trunks are tried.
	EmergencyTrunk string `yaml:"emergency_trunk"`
	// TLS is SIP over TLS: listen addresses and certificate (config/tls.go).
	TLS TLS `yaml:"tls"`
	// Connections bounds TCP and TLS connections per source and their idle time.
	Connections Connections `yaml:"connections"`
	// MaxContacts bounds the live contacts of one extension (default 5); a REGISTER that
	// would add more is refused with 403.
	MaxContacts int `yaml:"max_contacts"`
	// NATPingInterval is how often a registered UDP contact behind NAT (its Contact or Via
	// differs from the packet's source, or it asked for rport) is sent an OPTIONS keepalive;
	// after 3 unanswered in a row its binding is dropped. Default 30s; 0 disables pings.
	NATPingInterval *Duration `yaml:"nat_ping_interval"`
	// AuthLockout throttles failed digest attempts (password guessing).
	AuthLockout AuthLockout `yaml:"auth_lockout"`
	// DNS is the DNS server ("host:port") trunk destinations written as a host name are
	// resolved with (RFC 3263: NAPTR, SRV, A/AAAA). Default: the first nameserver of
	// /etc/resolv.conf.
	DNS string `yaml:"dns"`
	// DrainTimeout is how long a stop (SIGTERM, SIGINT or `ccswitch drain`) waits for the
	// calls in progress to end while new calls are refused with 503 (OPTIONS too, so a
	// dispatcher takes this node out); calls still up then are ended with BYE. Default 2m;
	// 0 stops at once. A second signal stops at once.
	DrainTimeout *Duration `yaml:"drain_timeout"`
}

// AuthLockout counts failed digest attempts per source address and username, so that one
// misconfigured phone does not lock out every phone behind the same NAT, while a source that
// tries many usernames is still stopped.
type AuthLockout struct {
	// Failures is how many failed attempts one username may make from one source address
	// within Window before that username is refused (403) from there (default 5).
	Failures int `yaml:"failures"`
	// Usernames is how many different usernames may fail from one source address within
	// Window before the whole source is refused (default 4).
	Usernames int `yaml:"usernames"`
	// Window is how long failures are remembered, and how long a lockout lasts after the
	// last failure (default 1m).
	Window Duration `yaml:"window"`
}

// Media is the RTP side.
type Media struct {
	// IP is the address RTP sockets bind to and SDP advertises (default: 127.0.0.1). An IPv6
	// address works as an IPv4 one. The unspecified address (0.0.0.0 or ::) binds every
	// interface and then needs PublicIP.
	IP string `yaml:"ip"`
	// PublicIP is the address written in SDP c= and o= lines to every peer instead of IP: the
	// public address of a host behind 1:1 NAT (a cloud VM), or the address to advertise when
	// IP is unspecified. Same address family as IP. Default: IP.
	PublicIP string `yaml:"public_ip"`
	// StrictSource accepts a leg's RTP only from the IP address its signalling came from or
	// the one its SDP names (any port: NAT), learns the port from the first such packet and
	// never moves to another source while the SDP stands; packets from anyone else are dropped
	// and counted (ccswitch_media_stranger_packets_total). Default true. false latches onto the
	// first source from anywhere (still never re-latching): for peers whose media comes from
	// addresses they never name.
	StrictSource *bool `yaml:"strict_source"`
	// RTPPorts is the port range (default "16384-32767", below Linux's ephemeral ports). Even
	// ports carry RTP, the odd one above each its RTCP; an anchored call holds four ports.
	RTPPorts string `yaml:"rtp_ports"`
	// Prompts is a folder of prompt WAVs, one subfolder per language and hold-music.wav,
	// relative to the config file's folder; a prompt it lacks comes from the prompts embedded
	// in the binary (configs/prompts). Default: the embedded prompts only.
	Prompts string `yaml:"prompts"`
	// Anchor routes every call's RTP through ccswitch (default true).
	Anchor *bool `yaml:"anchor"`
	// RTPTimeout ends a call whose media stopped (default 60s; 0 keeps the default).
	RTPTimeout Duration `yaml:"rtp_timeout"`
	// Record records every call to Recordings (default false).
	Record     bool   `yaml:"record"`
	Recordings string `yaml:"recordings"`
}

// HTTP is the API, agent desktop and webhook listener.
type HTTP struct {
	Listen       string `yaml:"listen"` // default 127.0.0.1:8080
	HTTPSecurity `yaml:",inline"`
}

// User is a SIP extension: a phone or softphone that registers (or a device with a static
// contact that never does).
type User struct {
	Extension string `yaml:"extension"`
	// Secret is the digest password; "${VAR}" takes it from the environment.
	Secret string `yaml:"secret"`
	Name   string `yaml:"name"`
	// Outbound allows calls to numbers outside ccswitch, through a trunk. Off by default: no
	// extension reaches the PSTN unless the operator says so.
	Outbound bool `yaml:"outbound"`
	// Contact is a static contact URI ("sip:2000@127.0.0.1:5090") for devices that never
	// register; calls to the extension go there as well as to registered contacts.
	Contact string `yaml:"contact"`
	// Class names a class of service (sip.limits.classes): destination rules and caps.
	Class string `yaml:"class"`
	// MaxCalls and DailyMinutes override the class and sip.limits for this extension
	// (0: no limit). Allow and Deny add number prefixes to the class's (see Class).
	MaxCalls     *int     `yaml:"max_calls"`
	DailyMinutes *int     `yaml:"daily_minutes"`
	Allow        []string `yaml:"allow"`
	Deny         []string `yaml:"deny"`
	// RequireTLS refuses (403) the extension's REGISTER and INVITE unless they came over
	// TLS, so its credentials and calls never cross the network in clear.
	RequireTLS bool `yaml:"require_tls"`
	// SRTP is the extension's media encryption (SDES, RFC 4568): "optional" (default: SRTP
	// when the phone offers it, plain RTP otherwise), "required" (an offer without SRTP gets
	// 488, and calls to the extension offer RTP/SAVP only) or "off" (plain RTP only).
	SRTP string `yaml:"srtp"`
	// CallerID is the E.164 number the extension's calls out present (From and
	// P-Asserted-Identity), instead of its trunk's caller_id. A DID routed to the extension
	// is not used unless written here.
	CallerID string `yaml:"caller_id"`
	// HideCallerID withholds the extension's number from the called party on calls out:
	// From is anonymous and the request carries Privacy: id (RFC 3323/3325); the carrier
	// still gets the number in P-Asserted-Identity.
	HideCallerID bool `yaml:"hide_caller_id"`
}

// Trunk is a carrier connection: how its calls are recognised, and where ours go out.
type Trunk struct {
	Name string `yaml:"name"`
	// Sources match inbound requests by source address: "203.0.113.5", "203.0.113.0/24",
	// "127.0.0.1:5080" or "[2001:db8::1]:5060".
	Sources []string `yaml:"sources"`
	// Username and Secret, when set, let the carrier authenticate inbound calls by digest
	// instead of (or as well as) by source address.
	Username string `yaml:"username"`
	Secret   string `yaml:"secret"`
	// Outbound is where calls to external numbers go ("sip:127.0.0.1:5080", "host:port"), or
	// a list of destinations with priority and weight (Destination, config/trunks.go). A
	// host name without a port is resolved per RFC 3263 (NAPTR, SRV, A). Empty: the trunk
	// is inbound only.
	Outbound string `yaml:"outbound,list=Destinations"`
	// Destinations is the list form of outbound (written as outbound: [...]).
	Destinations []Destination `yaml:"-"`
	// OutboundUsername/OutboundSecret answer the carrier's own 401/407 challenges.
	OutboundUsername string `yaml:"outbound_username"`
	OutboundSecret   string `yaml:"outbound_secret"`
	// Transport for outbound requests: udp (default), tcp or tls (the default for a sips:
	// Outbound). Over TLS the carrier's certificate is verified against TLSCA (default: the
	// system's roots) for the name TLSServerName (default: Outbound's host).
	Transport     string `yaml:"transport"`
	TLSCA         string `yaml:"tls_ca"`
	TLSServerName string `yaml:"tls_server_name"`
	// RequireTLS refuses (403) requests from the trunk that did not come over TLS.
	RequireTLS bool `yaml:"require_tls"`
	// OptionsInterval pings each outbound destination with OPTIONS; 0 disables health
	// checks (default 30s). A destination is down after OptionsDown probes in a row got no
	// answer (default 3) and up again after OptionsUp answered in a row (default 2); a
	// trunk is down while all its destinations are.
	OptionsInterval *Duration `yaml:"options_interval"`
	OptionsDown     int       `yaml:"options_down"`
	OptionsUp       int       `yaml:"options_up"`
	// Redirects is how many 3xx answers of the trunk a call follows (0 to 5, default 0:
	// a 3xx is answered 480). A redirect's target number is decided again as if dialled
	// by the caller, and goes out through this trunk.
	Redirects int `yaml:"redirects"`
	// Register keeps a registration with the carrier's registrar at outbound (the first
	// destination), as OutboundUsername with OutboundSecret, refreshed before
	// RegisterExpires (default 10m) ends, retried with back-off after a failure. Calls the
	// carrier sends to that registration are this trunk's inbound calls.
	Register        bool     `yaml:"register"`
	RegisterExpires Duration `yaml:"register_expires"`
	// CallerID is the E.164 number calls out through the trunk present in From and
	// P-Asserted-Identity (users[].caller_id wins). Empty: the extension's number.
	CallerID string `yaml:"caller_id"`
	// Strip and Prepend normalise numbers for the carrier: a number sent to the trunk (the
	// dialled number, the caller ID) that starts with Strip loses it and gains Prepend
	// ("+49" → "0": E.164 to national). Numbers from the trunk (caller, DID) that do not
	// start with '+' are read back the other way (Prepend removed, Strip added).
	Strip   string `yaml:"strip"`
	Prepend string `yaml:"prepend"`
	// Prefixes limits which dialled numbers may use this trunk ("+1", "00"); empty means any.
	Prefixes []string `yaml:"prefixes"`
	// Media "anchor" (default) or "passthrough" (SDP relayed untouched).
	Media string `yaml:"media"`
	// MaxCalls bounds the trunk's concurrent calls, inbound and outbound (default 0: no
	// limit). An inbound call past it gets 503; an outbound one tries the next trunk.
	MaxCalls int `yaml:"max_calls"`
	// SRTP is the trunk's media encryption, as users[].srtp: "optional" (default), "required"
	// or "off". It applies to anchored media only.
	SRTP string `yaml:"srtp"`
}

// Number is a DID (or any dialled number we own): where its calls go and when it is open.
type Number struct {
	DID string `yaml:"did"`
	// Target is an extension to ring; Flow names a flow to run. Exactly one is set.
	Target string `yaml:"target"`
	Flow   string `yaml:"flow"`
	// Language is the caller's starting language (default "en").
	Language string `yaml:"language"`
	// Schedule: open hours in the number's own time zone. No hours means always open.
	Schedule `yaml:",inline"`
	// Unavailable is the prompt (a name under media.prompts/<lang>/ or a path) played per
	// language when the number is closed, or when no agent is logged in to its queue.
	Unavailable map[string]string `yaml:"unavailable"`
}

// Schedule is a calendar: weekly ranges in a time zone, holidays and temporary overrides.
type Schedule struct {
	// Timezone is an IANA name ("Europe/Paris"); default UTC.
	Timezone  string     `yaml:"timezone"`
	Hours     []Hours    `yaml:"hours"`
	Holidays  []Holiday  `yaml:"holidays"`
	Overrides []Override `yaml:"overrides"`
}

// Hours opens the given days for the given ranges.
type Hours struct {
	// Days: "mon-fri", "sat", "sun,mon", "daily".
	Days string `yaml:"days"`
	// Open: ranges "09:00-12:30"; "00:00-24:00" is the whole day.
	Open []string `yaml:"open"`
}

// Holiday closes a day or a range of days. Date "12-25" repeats yearly; "2026-12-31" is
// one-off. From/To give an inclusive range in either form.
type Holiday struct {
	Name string `yaml:"name"`
	Date string `yaml:"date"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Override forces the number open or closed between two local times
// ("2026-12-24T18:00"), whatever hours and holidays say.
type Override struct {
	Name string `yaml:"name"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
	Open bool   `yaml:"open"`
}

// Flow is a small graph of nodes interpreted by ivr, the same for voice and text.
type Flow struct {
	Name string `yaml:"name"`
	// Start is the first node's id (default: the first node).
	Start string `yaml:"start"`
	// Escape, when set, lets the caller reach an agent from any menu or gather by the digit
	// ("0") or the word ("agent").
	Escape *Escape `yaml:"escape"`
	Nodes  []Node  `yaml:"nodes"`
}

// Escape is the whole-flow "talk to a person" exit.
type Escape struct {
	Digit   string `yaml:"digit"`
	Keyword string `yaml:"keyword"`
	Queue   string `yaml:"queue"`
}

// Node is one step of a flow. Type selects which fields matter:
//
//	play      Prompt (or Text for text channels), Next
//	menu      Prompt, Choices, Timeout, Retries, Invalid, NoInput (node ids), Next unused
//	gather    Prompt, Var, MaxDigits, Terminator, Timeout, Next
//	set       Vars, Language, Priority, Requirements, Next
//	hours     Open, Closed, Holiday (node ids), using the number's schedule
//	queue     Queue, MaxWait, Overflow (node id), Announce (position/expected wait), AnnounceEvery,
//	          Callback, Voicemail, Next (after overflow)
//	transfer  Target (extension or external number)
//	voicemail Prompt, MaxLength, Next
//	hangup    Prompt (optional goodbye)
type Node struct {
	ID           string            `yaml:"id"`
	Type         string            `yaml:"type"`
	Prompt       string            `yaml:"prompt"`
	Text         string            `yaml:"text"`
	Next         string            `yaml:"next"`
	Choices      []Choice          `yaml:"choices"`
	Timeout      Duration          `yaml:"timeout"`
	Retries      int               `yaml:"retries"`
	Invalid      string            `yaml:"invalid"`
	NoInput      string            `yaml:"no_input"`
	Var          string            `yaml:"var"`
	MaxDigits    int               `yaml:"max_digits"`
	Terminator   string            `yaml:"terminator"`
	Vars         map[string]string `yaml:"vars"`
	Language     string            `yaml:"language"`
	Priority     *int              `yaml:"priority"`
	Requirements []string          `yaml:"requirements"`
	Open         string            `yaml:"open"`
	Closed       string            `yaml:"closed"`
	Holiday      string            `yaml:"holiday"`
	Queue        string            `yaml:"queue"`
	MaxWait      Duration          `yaml:"max_wait"`
	Overflow     string            `yaml:"overflow"`
	Announce     bool              `yaml:"announce"`
	Target       string            `yaml:"target"`
	MaxLength    Duration          `yaml:"max_length"`
	// AnnounceEvery repeats the position and expected wait of an announce queue node
	// (default 30s; config/callback.go).
	AnnounceEvery Duration `yaml:"announce_every"`
	// Callback and Voicemail offer a waiting caller a callback keeping their place, or a
	// message to the queue (queue nodes; config/callback.go).
	Callback  *QueueCallback  `yaml:"callback"`
	Voicemail *QueueVoicemail `yaml:"voicemail"`
}

// Choice is one menu option: digits for voice, keywords for text (both may be given).
type Choice struct {
	Digits   string   `yaml:"digits"`
	Keywords []string `yaml:"keywords"`
	Next     string   `yaml:"next"`
}

// Skill declares a skill and its type: proficiency (0–10), boolean, text or enum (Values).
type Skill struct {
	Name   string   `yaml:"name"`
	Type   string   `yaml:"type"`
	Values []string `yaml:"values"`
}

// Profile is a named set of skill values ("senior-fr": language fr, sales 8).
type Profile struct {
	Name   string            `yaml:"name"`
	Skills map[string]string `yaml:"skills"`
}

// Queue is an ACD queue: who may take its contacts and how they are ordered.
type Queue struct {
	Name string `yaml:"name"`
	// Channels this queue takes: voice, chat, email, social (default voice and chat).
	Channels []string `yaml:"channels"`
	// Requirements are skill conditions ("language == fr", "sales >= 6", "vip").
	Requirements []string `yaml:"requirements"`
	// Strategy: longest-idle (default), most-skilled, round-robin, least-occupied.
	Strategy    string   `yaml:"strategy"`
	WrapUp      Duration `yaml:"wrapup"`       // default 10s
	RONATimeout Duration `yaml:"rona_timeout"` // default 20s
	RONAMisses  int      `yaml:"rona_misses"`  // misses before not-ready (default 1)
	MaxWait     Duration `yaml:"max_wait"`     // 0: no limit
	Overflow    string   `yaml:"overflow"`     // queue taking contacts past MaxWait
	Relax       []Relax  `yaml:"relax"`
	// ServiceLevel is the answer-time target counted in statistics (default 20s).
	ServiceLevel Duration `yaml:"service_level"`
}

// Relax widens a queue's requirements for contacts that have waited After.
type Relax struct {
	After Duration `yaml:"after"`
	// Set replaces conditions on the same skills ("sales >= 3").
	Set []string `yaml:"set"`
	// Drop removes the conditions on these skills.
	Drop []string `yaml:"drop"`
}

// Agent is a person taking contacts: their phone, desktop login, skills and capacity.
type Agent struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Extension is the agent's phone (a users[] extension) rung for voice contacts.
	Extension string `yaml:"extension"`
	// PasswordHash is a bcrypt hash for the desktop; Password ("${VAR}") is hashed at load.
	PasswordHash string `yaml:"password_hash"`
	Password     string `yaml:"password"`
	// Skills: name → value ("sales": "7", "language": "fr", "vip": "true"). They override the
	// values the agent's Profiles give.
	Skills   map[string]string `yaml:"skills"`
	Profiles []string          `yaml:"profiles"`
	Queues   []string          `yaml:"queues"`
	// Capacity per channel (default voice 1, chat 3, email 5, social 3).
	Capacity map[string]int `yaml:"capacity"`
	// NoChatDuringCall blocks text offers while the agent is on a call.
	NoChatDuringCall bool `yaml:"no_chat_during_call"`
	// AutoLogin makes the agent available when their phone registers.
	AutoLogin bool `yaml:"auto_login"`
	// Role is "agent" (default) or "supervisor": a supervisor also has an agent's rights, sees
	// every conversation and customer, links and unlinks customers and monitors live calls.
	Role string `yaml:"role"`
	// Device is where the agent takes calls by default: "phone" (default: their extension's
	// SIP phone) or "browser" (the desktop's browser phone connects at login; needs webrtc.port).
	// The desktop's phone switch overrides it for that browser.
	Device string `yaml:"device"`
}

// Duration is a time.Duration written as "30s", "5m" or "1h30m" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
