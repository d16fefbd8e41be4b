//go:build !race

package p2p

// raceDetector reports that the race detector is on (race_on_test.go).
const raceDetector = false
