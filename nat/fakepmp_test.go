package nat

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// fakePMP is an in-process NAT-PMP gateway (RFC 6886) on a loopback
// address of its own at the protocol's fixed port 5351.
type fakePMP struct {
	ip netip.Addr
	pc *net.UDPConn
	wg sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	extIP    netip.Addr
	epoch    uint32
	mappings map[uint16]pmpMapping // by internal port
	requests int
	silent   bool // drop every request (a router that is down)
}

type pmpMapping struct {
	ext      uint16
	lifetime uint32
}

func newFakePMP(t *testing.T) *fakePMP {
	f := &fakePMP{extIP: netip.MustParseAddr("198.51.100.9"), epoch: 1000, mappings: map[uint16]pmpMapping{}}
	var err error
	for range 20 {
		f.ip = netip.AddrFrom4([4]byte{127, 0, byte(rand.IntN(250) + 1), byte(rand.IntN(250) + 2)})
		f.pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.ip, pmpPort)))
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("fake NAT-PMP: %v", err)
	}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() { f.pc.Close(); f.wg.Wait() })
	return f
}

// pmpRequest is a decoded NAT-PMP request.
type pmpRequest struct {
	op               uint8
	intPort, extPort uint16
	lifetime         uint32
}

// decodePMPRequest decodes a client's request (RFC 6886 §3.2, §3.3).
func decodePMPRequest(b []byte) (pmpRequest, error) {
	if len(b) < 2 || b[0] != 0 {
		return pmpRequest{}, errors.New("not a version 0 request")
	}
	r := pmpRequest{op: b[1]}
	switch r.op {
	case 0:
		if len(b) != 2 {
			return pmpRequest{}, errors.New("external address request of wrong length")
		}
	case 1, 2:
		if len(b) != 12 {
			return pmpRequest{}, errors.New("mapping request of wrong length")
		}
		r.intPort = binary.BigEndian.Uint16(b[4:])
		r.extPort = binary.BigEndian.Uint16(b[6:])
		r.lifetime = binary.BigEndian.Uint32(b[8:])
	default:
		return pmpRequest{}, errors.New("unsupported opcode")
	}
	return r, nil
}

func (f *fakePMP) serve() {
	defer f.wg.Done()
	buf := make([]byte, 64)
	for {
		n, from, err := f.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		req, err := decodePMPRequest(buf[:n])
		if err != nil {
			continue
		}
		f.mu.Lock()
		f.requests++
		if f.silent {
			f.mu.Unlock()
			continue
		}
		var out []byte
		if req.op == 0 {
			out = make([]byte, 12)
			out[1] = 128
			binary.BigEndian.PutUint32(out[4:], f.epoch)
			ip := f.extIP.As4()
			copy(out[8:], ip[:])
		} else {
			out = make([]byte, 16)
			out[1] = 128 + req.op
			binary.BigEndian.PutUint32(out[4:], f.epoch)
			binary.BigEndian.PutUint16(out[8:], req.intPort)
			if req.lifetime == 0 {
				delete(f.mappings, req.intPort)
			} else {
				ext := req.extPort
				if ext == 0 {
					ext = req.intPort
				}
				f.mappings[req.intPort] = pmpMapping{ext: ext, lifetime: req.lifetime}
				binary.BigEndian.PutUint16(out[10:], ext)
				binary.BigEndian.PutUint32(out[12:], req.lifetime)
			}
		}
		f.mu.Unlock()
		f.pc.WriteToUDPAddrPort(out, from)
	}
}

func (f *fakePMP) mapping(intPort uint16) (pmpMapping, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.mappings[intPort]
	return m, ok
}

func (f *fakePMP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// restart forgets the mappings and resets the epoch, like a rebooted router.
func (f *fakePMP) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mappings = map[uint16]pmpMapping{}
	f.epoch = 0
}
