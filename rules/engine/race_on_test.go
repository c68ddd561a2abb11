//go:build race

package engine

// raceEnabled: sync.Pool drops items at random under the race detector,
// so pooled paths allocate there.
const raceEnabled = true
