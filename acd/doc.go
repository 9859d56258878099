// Package acd is the queue engine: it decides which agent is offered
// which task, for voice and text channels alike.
//
// # Model
//
// Skills (SkillDef) are typed: proficiency 0–10, boolean, text (exact
// match) or enum (ordered named values). Agents (AgentDef) carry skills
// directly or through profiles, serve queues, and have a capacity per
// Channel plus an optional cross-channel rule (Blocks, NoChatDuringCall).
// Queues (QueueDef) have requirements written as conditions
// (ParseCondition: `language == fr`, `sales >= 6`, `vip`, `!trainee`,
// `tier in (gold, platinum)`), an ordering Strategy, wrap-up, RONA
// timeout and miss policy, max wait with overflow, and relaxation steps
// (RelaxStep) that loosen the requirements while a task waits. A Task
// adds its own requirements and a priority.
//
// A task is queued, then reserved (offered to one agent), then accepted,
// completed, and its agent wraps up. Reject, or no answer within the
// queue's RONATimeout, puts the task back at its original place for the
// next best agent; after RONAMisses consecutive misses the agent goes to
// state RONA. Cancel abandons a waiting or reserved task; Transfer moves
// it to another queue keeping its place; max wait moves it to the
// overflow queue or ends it timed out.
//
// # Goroutines
//
// One goroutine, the one calling Run, owns all routing state. Every
// other method of Engine may be called from any goroutine: commands
// (Enqueue, Cancel, Transfer, Complete, CompleteReservation, EndWrapUp, Accept, Reject,
// AgentLogin, AgentLogout, SetState, SetChannels, Apply) are copied into
// a bounded lock-free ring and return at once; they never block, and
// return ErrBusy when the ring is full (nothing was submitted) or
// ErrClosed after Run returned. WaitRoom is the backpressure: a producer
// that got ErrBusy waits in it until the engine has taken commands off
// the ring, then submits again. Their effects, and any failure found on the engine
// goroutine, come back as Events through the Sink, which is called on
// the Run goroutine and must not block. Sync waits for everything
// submitted before it. Snapshot reads the last published Snapshot
// through an atomic pointer and never blocks. The package has no mutex.
//
// An Engine is one shard: every queue an agent serves must live in the
// same Engine. To scale out, partition queues with their agents into
// independent engines, each with its own Run goroutine.
//
// # Configuration
//
// The config layer fills SkillDef, ProfileDef, QueueDef and AgentDef,
// calls ParseCondition on each condition string to report syntax errors
// at file:line, and Config.Validate for the rest (unknown skills, values
// that do not fit a skill's type, unknown queues, strategies and
// profiles). New builds an engine; Apply swaps the definitions of a
// running engine, and the new queue rules apply to tasks already waiting.
//
// # Using it from the voice and text paths
//
// Enqueue a Task when a contact arrives (ID = call or conversation ID).
// On EventReservationCreated ring the agent's device (voice) or show the
// offer (text), bounded by Event.Timeout; call Accept when the agent
// answers, Reject when the agent declines. On EventReservationTimedOut
// or EventReservationCanceled stop ringing. An Accept that loses the race
// with the timeout comes back as EventCommandFailed with
// ErrNoReservation: hang up the agent leg. When the caller hangs up
// before acceptance call Cancel; when the accepted contact ends call
// Complete (or CompleteReservation with the reservation of the offer,
// which skips the ID lookup); EndWrapUp (or the queue's WrapUp timer)
// frees the agent. Task.Tag and AgentDef.Tag are the caller's own
// integer handles: every event carries them back (Event.TaskTag,
// Event.AgentTag), so a Sink indexes its tables without parsing or
// hashing IDs.
//
// # Expected wait
//
// ExpectedWait is what a waiting caller is told. It needs two figures, and says nothing
// (false) when either is missing, rather than a guess:
//
//   - the queue's mean handle time: the average of its last HandleSamples (20) handle times,
//     each from the acceptance of a task to the end of its agent's wrap-up (HandleTimes;
//     none before MinHandleSamples, 3, are in);
//   - its working agents: those of the queue's members who are available, busy or in
//     wrap-up (QueueStats.Working); not-ready, RONA and offline agents serve nobody.
//
// With N working agents each freeing a place every AHT on average, places free at a rate of
// N/AHT, so the contact at position p (p-1 contacts ahead of it) is offered after about
// p × AHT / N. With exponential handle times and every agent busy this is exact in
// expectation (the time to the p-th of N memoryless departures); the simulated-queue test
// (TestExpectedWaitSimulated) measures how far off it is in a queue with arrivals, mixed
// handle times and abandons. The center keeps the handle times (center.ExpectedWait) and
// the voice path rounds the estimate up to whole minutes when it announces it.
//
// # Invariants
//
// Tests cite these numbers.
//
//  1. A live task is in exactly one place: waiting in one class, or
//     reserved to exactly one agent, or accepted, or in wrap-up. It is
//     never reserved to two agents.
//  2. Every enqueued task ends with exactly one terminal event
//     (EventTaskCompleted, EventTaskAbandoned, EventTaskTimedOut); until
//     then it is live and can be named by its ID. No task is lost.
//  3. A reservation is created only if the agent is Available, holds
//     fewer tasks on the channel than its capacity, and no task it holds
//     blocks the channel. So no agent is ever above capacity.
//  4. Every reservation ends with exactly one of accepted, rejected,
//     timed out or canceled, and times out no later than the queue's
//     RONATimeout after it was created (once the clock reaches it): no
//     agent stays reserved.
//  5. Routing is work-conserving: after every command, no routable agent
//     is eligible for a waiting task (unless that task excludes it, see 8).
//  6. Order: an agent who becomes routable takes, across all its queues
//     and channels, the eligible waiting task with the highest priority,
//     then the earliest arrival (deterministic, by arrival sequence). A
//     task that arrives takes the eligible routable agent with the lowest
//     strategy rank, then the one declared first.
//  7. Relaxation: step k of a queue applies to a task once it has waited
//     RelaxStep.After in the queue, never before; stages only grow while
//     the task stays in the queue, and relaxing never changes its place.
//  8. A rejected or timed-out task keeps its place (arrival sequence)
//     and is not offered again, in this queue, to the last four agents
//     who refused it, until such an agent comes back: it turns Available
//     from another presence (after RONA or not-ready, or a new login), or
//     it ends the wrap-up of its last contact. So a task only one agent
//     can take is never stranded: it returns to that agent.
//     An agent who leaves Available (not-ready, offline) withdraws its
//     pending offers at once; they go back to their place, not counted as
//     misses. So does an agent who signs out of a channel (SetChannels)
//     for its offers on that channel; signing in on a channel again counts
//     as coming back.
//  9. A published Snapshot is never modified.
//
// # Performance
//
// Waiting tasks are grouped in classes (queue, channel, requirements,
// relaxation stage); each class keeps a heap of its tasks and a heap of
// its routable eligible agents, and each agent lists the classes it is
// eligible for. A decision touches the heads of the agent's classes or
// one class's agent heap, never every agent or task. A class's tasks sit
// in a FIFO run (arrivals in key order, taken in O(1)) and a 4-ary heap
// (the rest); entries keep the key inline in 16 pointer-free bytes (task
// slot and generation), delete lazily, and the best key is cached in the
// class, so comparing an agent's classes reads one line per class and
// only the chosen task. Classes idle for a minute are dropped and
// rebuilt on demand. Tasks live in a slab and are reused; task IDs map
// to slots through an open-addressing table of 8-byte entries (no
// strings, no pointers). An agent keeps its hot fields (ID, capacity,
// load, first held tasks and class pointers) inline. Deadlines sit in
// per-queue sorted intrusive lists behind one clock timer, and fire in
// deadline order. Snapshots are published incrementally (only the agents
// touched since the last one are rebuilt). No allocation happens per
// decision in steady state. A task keeps its ID's hash, so freeing it
// does not read the ID again; CompleteReservation finds the task from
// the slot in the reservation, without the ID table.
package acd
