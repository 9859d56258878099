// Package web is ccswitch's HTTP side: the agent desktop and wallboard (assets embedded in the
// binary), the JSON API behind them, the agent WebSocket, the channel webhooks and the web chat
// widget mounted from channels, and the /metrics endpoint.
//
// Security model (README "Web security" lists each protection with its setting):
//  1. Every request passes front first: a Host not in http.hosts gets 421 (a DNS-rebinding
//     page cannot reach a loopback desktop), and every response carries nosniff, a
//     Content-Security-Policy with frame-ancestors 'none', X-Frame-Options and Referrer-Policy.
//  2. Agents log in with their config password (bcrypt). An unknown agent id is compared
//     against a dummy hash of the agents' own cost, so both cost the same; at most
//     http.login.max_hashing checks run at once (503 beyond a second's wait); too many
//     failures per agent id or per source within http.login.window get 429 + Retry-After
//     before any hashing.
//  3. A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure and
//     named __Host- when the browser came over TLS: public_url https, or X-Forwarded-Proto
//     from http.trusted_proxies only). It ends at logout, after http.session_ttl, after
//     http.session_idle without use, when the agent is removed or their password changes;
//     its WebSockets close with it. State-changing API calls must send JSON
//     (Content-Type application/json), which a cross-site form cannot.
//  4. Roles: an agent reads and acts on their own conversations (assigned or offered to them)
//     and those conversations' customers; a supervisor sees all, searches all customers,
//     links and unlinks customers (an audit record each, in the store) and sees the
//     wallboard's per-agent detail.
//  5. Webhooks authenticate with their provider's signature, not the session; a source whose
//     requests keep failing the signature is refused (429) by http.webhook_failures, signed
//     requests are never limited.
//  6. Errors: a 5xx answer says only its status text; the detail goes to the log.
//  7. Every refusal is counted (ccswitch_web_refused_total{reason}) and logged through ratelog.
//
// Lock order: Server.mu (sessions) is never held while calling the channels Service or the
// center.
package web
