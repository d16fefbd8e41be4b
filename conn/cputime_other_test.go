//go:build !unix

package conn

import "time"

// processCPU returns 0: the benchmarks' CPU figures are measured on unix only.
func processCPU() time.Duration { return 0 }
