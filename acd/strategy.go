package acd

// AgentInfo is what a Strategy sees of an agent when ranking it for a
// queue. Times are nanoseconds on the engine's clock since New.
type AgentInfo struct {
	// IdleSince is when the agent last finished a task or became
	// available, whichever is later.
	IdleSince int64
	// LastOffer is a sequence number, increasing with every reservation
	// the engine creates; 0 if never offered.
	LastOffer uint64
	// Load is the number of tasks the agent holds on all channels;
	// Occupancy is the held share of its total capacity in 1/1000.
	Load      int
	Occupancy int
	// Score is the sum of the agent's proficiency levels on the
	// proficiency skills the task's requirements name.
	Score int
}

// Strategy orders the available agents of a queue: among the agents
// that satisfy a task's requirements, the one with the lowest Rank is
// offered the task first; ties go to the agent declared first. Rank is
// called on the engine goroutine when an agent becomes available or its
// load changes, must be fast and must not block. The built-ins are
// "longest-idle" (default), "most-skilled", "round-robin" and
// "least-occupied".
type Strategy interface {
	Rank(a AgentInfo) int64
}

// StrategyFunc adapts a function to Strategy.
type StrategyFunc func(a AgentInfo) int64

// Rank calls f.
func (f StrategyFunc) Rank(a AgentInfo) int64 { return f(a) }

// idleUs is the idle time in microseconds, in 44 bits (200 days of
// uptime), to order agents below a primary key.
func idleUs(ns int64) int64 { return min(ns>>10, 1<<44-1) }

var builtinStrategies = map[string]Strategy{
	// The fewest tasks held first (idle agents before busy ones), then
	// the agent idle for longest.
	"longest-idle": StrategyFunc(func(a AgentInfo) int64 { return int64(a.Load)<<44 | idleUs(a.IdleSince) }),
	// The highest Score first, then the longest idle.
	"most-skilled": StrategyFunc(func(a AgentInfo) int64 { return -int64(a.Score)<<44 | idleUs(a.IdleSince) }),
	// The agent offered least recently first.
	"round-robin": StrategyFunc(func(a AgentInfo) int64 { return int64(a.LastOffer) }),
	// The lowest occupancy first, then the longest idle.
	"least-occupied": StrategyFunc(func(a AgentInfo) int64 { return int64(a.Occupancy)<<44 | idleUs(a.IdleSince) }),
}
