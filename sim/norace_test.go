//go:build !race

package sim

import "time"

// The CI-size run's size without the race detector (see race_test.go).
const (
	ciSeeds    = 2
	ciDuration = 4 * time.Minute
	// reportSeeds and reportDuration size TestWriteReport's runs.
	reportSeeds      = 2
	reportDuration   = 15 * time.Second
	calibrationSeeds = 30
)

// dhtTestNodes and dhtTestDuration size the DHT tests.
const (
	dhtTestNodes    = 60
	dhtTestDuration = 2 * time.Minute
)
