//go:build race

package conn

// raceHeapAllowance is what the race detector's instrumentation adds to the
// heap a handshake allocates, both ends. It varies with scheduling: measured
// 3,145–3,647 B per handshake under -race (2026-12-03, 30 runs) against
// ~2,870 B without, so up to ~780 B; the bound that matters is the one
// without the race detector.
const raceHeapAllowance = 1024
