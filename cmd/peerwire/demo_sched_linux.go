package main

import (
	"syscall"
	"time"
)

// kernelSleep sleeps d in nanosleep(2) ; on a thread locked to its goroutine,
// how late it returns is the OS's scheduling delay, not the Go scheduler's.
func kernelSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
