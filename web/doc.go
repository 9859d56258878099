// Package web is ccswitch's HTTP side: the agent desktop and wallboard (assets embedded in the
// binary), the JSON API behind them, the agent WebSocket, the channel webhooks and the web chat
// widget mounted from channels, and the /metrics endpoint.
//
// Security model: agents log in with their config password (bcrypt); a session is a random
// 256-bit token in an HttpOnly, SameSite=Strict cookie that expires after Options.SessionTTL.
// State-changing API calls must send JSON (Content-Type application/json), which a cross-site
// form cannot. Webhooks authenticate with their provider's signature, not the session.
//
// Lock order: Server.mu (sessions) is never held while calling the channels Service.
package web
