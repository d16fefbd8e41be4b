package lab

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Impairment describes what Impair does to a host's outgoing packets.
type Impairment struct {
	Delay time.Duration // added to every outgoing packet
	Loss  float64       // probability of dropping an outgoing packet, 0-1
}

// ImpairStats counts what the userspace emulator did.
type ImpairStats struct {
	Forwarded, Dropped, Returned uint64
}

// emulator is the userspace link emulator of one host.
type emulator struct {
	hostTun, gwTun *os.File
	fwd, drop, ret atomic.Uint64
	done           chan struct{}
}

// Impair adds delay and loss to the host's outgoing packets. It uses tc
// netem when the kernel has it; otherwise (kernels built without
// sch_netem) it reroutes the host through a userspace emulator: the host's
// address moves to a TUN device, a gateway namespace takes the host's
// bridge cable and forwards (with proxy ARP) between the bridge and a
// second TUN device, and the test process copies packets between the two
// TUNs, delaying and dropping the host's outgoing ones. It reports which
// mechanism it used ("netem" or "userspace"). Call it before starting
// processes in the host: moving the address breaks open connections.
func (h *Host) Impair(im Impairment) string {
	h.lab.t.Helper()
	args := []string{"delay", fmt.Sprintf("%dms", im.Delay.Milliseconds())}
	if im.Loss > 0 {
		args = append(args, "loss", fmt.Sprintf("%g%%", im.Loss*100))
	}
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS, "tc", "qdisc", "replace", "dev", "eth0", "root", "netem"}, args...)...).CombinedOutput()
	if err == nil {
		return "netem"
	}
	if !bytes.Contains(out, []byte("unknown")) {
		h.lab.t.Fatalf("lab: tc netem on %s: %v: %s", h.NS, err, bytes.TrimSpace(out))
	}
	h.userspaceImpair(im)
	return "userspace"
}

// ImpairStats reports the userspace emulator's counters (zero with netem).
func (h *Host) ImpairStats() ImpairStats {
	if h.emu == nil {
		return ImpairStats{}
	}
	return ImpairStats{Forwarded: h.emu.fwd.Load(), Dropped: h.emu.drop.Load(), Returned: h.emu.ret.Load()}
}

func (h *Host) userspaceImpair(im Impairment) {
	l := h.lab
	gw := h.NS + "-gw"
	l.must("ip", "netns", "add", gw)
	l.must("ip", "-n", gw, "link", "set", "lo", "up")
	prefix := HostAddr(h.Index).String() + "/15"
	// The cable moves to the gateway, which answers ARP for the host's
	// address and forwards between the bridge and its TUN.
	l.must("ip", "-n", h.NS, "link", "set", "eth0", "netns", gw)
	gwAddr := fmt.Sprintf("198.19.255.%d/15", h.Index+1)
	l.must("ip", "-n", gw, "addr", "add", gwAddr, "dev", "eth0")
	l.must("ip", "-n", gw, "link", "set", "eth0", "up")
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.proxy_arp=1", "net.ipv4.conf.eth0.proxy_arp=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.neigh.eth0.proxy_delay=0", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"} {
		l.must("ip", "netns", "exec", gw, "sysctl", "-q", "-w", kv)
	}
	var err error
	h.emu = &emulator{done: make(chan struct{})}
	if err2 := h.inNSNamed(gw, func() { h.emu.gwTun, err = openTun("tgw") }); err2 != nil || err != nil {
		l.t.Fatalf("lab: tun in %s: %v %v", gw, err2, err)
	}
	if err2 := h.inNS(func() { h.emu.hostTun, err = openTun("tun0") }); err2 != nil || err != nil {
		l.t.Fatalf("lab: tun in %s: %v %v", h.NS, err2, err)
	}
	l.must("ip", "-n", gw, "link", "set", "tgw", "up")
	l.must("ip", "-n", gw, "route", "add", HostAddr(h.Index).String()+"/32", "dev", "tgw")
	l.must("ip", "-n", h.NS, "addr", "add", prefix, "dev", "tun0")
	l.must("ip", "-n", h.NS, "link", "set", "tun0", "up")
	l.t.Cleanup(func() {
		close(h.emu.done)
		h.emu.hostTun.Close()
		h.emu.gwTun.Close()
		exec.Command("ip", "netns", "del", gw).Run()
	})
	go h.emu.pump(h.emu.hostTun, h.emu.gwTun, im, &h.emu.fwd, &h.emu.drop)
	go h.emu.pump(h.emu.gwTun, h.emu.hostTun, Impairment{}, &h.emu.ret, nil)
}

type delayed struct {
	due time.Time
	b   []byte
}

// pump copies packets from src to dst, dropping a share im.Loss of them and
// delaying the rest by im.Delay, in order.
func (e *emulator) pump(src, dst *os.File, im Impairment, count, dropped *atomic.Uint64) {
	q := make(chan delayed, 1<<16)
	go func() {
		for d := range q {
			if w := time.Until(d.due); w > 0 {
				time.Sleep(w)
			}
			if _, err := dst.Write(d.b); err != nil && isClosed(err) {
				return
			}
			count.Add(1)
		}
	}()
	defer close(q)
	for {
		b := make([]byte, 65536)
		n, err := src.Read(b)
		if err != nil {
			if isClosed(err) {
				return
			}
			continue
		}
		if im.Loss > 0 && rand.Float64() < im.Loss {
			dropped.Add(1)
			continue
		}
		select {
		case q <- delayed{due: time.Now().Add(im.Delay), b: b[:n]}:
		case <-e.done:
			return
		}
	}
}

func isClosed(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "bad file descriptor"))
}

// openTun creates a TUN device (no packet-information header) in the
// calling thread's network namespace.
func openTun(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var ifr [unix.IFNAMSIZ + 64]byte
	copy(ifr[:], name)
	*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, e)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}
