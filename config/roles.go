package config

// Supervisor reports whether the agent has the supervisor role.
func (a Agent) Supervisor() bool { return a.Role == "supervisor" }
