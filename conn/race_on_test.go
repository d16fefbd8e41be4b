//go:build race

package conn

// raceHeapAllowance is what the race detector's instrumentation adds to the
// heap a handshake allocates (measured: about 0.5 KB, both ends).
const raceHeapAllowance = 512
