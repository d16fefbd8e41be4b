//go:build !linux

package main

import (
	"time"
)

// kernelSleep sleeps d (with the Go timer where nanosleep is not at hand).
func kernelSleep(d time.Duration) {
	<-time.After(d)
}
