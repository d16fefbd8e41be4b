//go:build race

package p2p

// raceDetector reports that the race detector is on: it makes sync.Pool
// drop a share of what is put back, so allocation counts are not exact.
const raceDetector = true
