//go:build race

package sim

import "time"

// Under the race detector (make test) the simulation, one goroutine of
// map-heavy code, runs about ten times slower, so the CI-size run keeps
// its 1,000 nodes but simulates one seed for 2 min, and the
// calibration fewer seeds.
const (
	ciSeeds    = 1
	ciDuration = 2 * time.Minute
	// reportSeeds and reportDuration size TestWriteReport's runs.
	reportSeeds      = 1
	reportDuration   = 5 * time.Second
	calibrationSeeds = 6
)

// dhtTestNodes and dhtTestDuration size the DHT tests.
const (
	dhtTestNodes    = 30
	dhtTestDuration = 75 * time.Second
)
