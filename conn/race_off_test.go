//go:build !race

package conn

// raceHeapAllowance is 0 without the race detector (see race_on_test.go).
const raceHeapAllowance = 0
