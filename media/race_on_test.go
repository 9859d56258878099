//go:build race

package media

// raceEnabled: under the race detector sync.Pool drops items on purpose, so pooled buffers
// (pion/srtp's) allocate and allocation counts say nothing.
const raceEnabled = true
