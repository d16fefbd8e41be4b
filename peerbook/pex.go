package peerbook

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// IgnoreReason says why an address was not stored.
type IgnoreReason uint8

// Reasons an address is not stored.
const (
	ignoreNone       IgnoreReason = iota
	IgnoreInvalid                 // bad ID, host or port
	IgnoreUnroutable              // loopback, private, reserved or unspecified, and not allowed
	IgnoreFiltered                // refused by Deps.Filter
	IgnoreSelf                    // our own ID
	IgnoreBanned                  // ID or IP banned
	IgnoreKnown                   // ID already known; its address is kept
	IgnoreDuplicate               // ID already earlier in the same response
	IgnoreBucketFull              // its slot holds a good entry
	IgnoreBookFull                // the book is at MaxEntries with nothing to evict
	IgnoreName                    // a DNS name, and Config.AllowNetworkNames is off
	IgnoreLocalFull               // a local-network address, and MaxLocal are held
)

var ignoreNames = [...]string{"none", "invalid", "unroutable", "filtered", "self", "banned", "known", "duplicate", "bucket full", "book full", "name", "local full"}

// String returns a short lower-case description of the reason.
func (r IgnoreReason) String() string {
	if int(r) < len(ignoreNames) {
		return ignoreNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

func (r IgnoreReason) err() error {
	switch r {
	case ignoreNone, IgnoreKnown:
		return nil
	case IgnoreUnroutable:
		return ErrUnroutable
	case IgnoreSelf:
		return ErrSelf
	case IgnoreBanned:
		return ErrBanned
	case IgnoreBucketFull:
		return ErrBucketFull
	case IgnoreBookFull:
		return ErrBookFull
	case IgnoreName:
		return ErrNetworkName
	case IgnoreLocalFull:
		return ErrLocalFull
	}
	return fmt.Errorf("%w: %s", ErrInvalidAddress, r)
}

// PexResult tells the node what a PEX response was worth, so it can reward
// or punish the sender.
type PexResult struct {
	From        crypto.ID
	Received    int                  // addresses in the response
	Excess      int                  // addresses beyond Config.MaxPexAddrs, dropped unread
	Unsolicited bool                 // nobody asked: nothing was read
	Added       int                  // new entries stored
	Ignored     map[IgnoreReason]int // addresses not stored, by reason; nil if none
}

func (r *PexResult) ignore(reason IgnoreReason) {
	if r.Ignored == nil {
		r.Ignored = make(map[IgnoreReason]int)
	}
	r.Ignored[reason]++
}

// MarkPexRequested records that a PexRequest was sent to the peer now, so
// one response from it within Config.PexResponseTimeout is solicited. Each
// call asks for one more response (up to 8 at once), and renews the
// deadline of those still due: two requests sent before the first answer
// make both answers solicited. It returns ErrPexBusy when 1024 peers have
// requests outstanding.
func (b *Book) MarkPexRequested(from crypto.ID) error {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.mu
	ask, ok := m.pexOut[from]
	if ok && now.After(ask.deadline) {
		ask, ok = pexAsk{}, false
	}
	if !ok && len(m.pexOut) >= maxPexOutstanding {
		for id, a := range m.pexOut {
			if now.After(a.deadline) {
				delete(m.pexOut, id)
			}
		}
		if len(m.pexOut) >= maxPexOutstanding {
			return ErrPexBusy
		}
	}
	ask.deadline = now.Add(b.cfg.PexResponseTimeout)
	if ask.n < maxPexAsksPerPeer {
		ask.n++
	}
	m.pexOut[from] = ask
	return nil
}

// pexAsk is what a peer owes us: n PEX responses, due by deadline.
type pexAsk struct {
	deadline time.Time
	n        uint8
}

// IngestPex stores the addresses of a PEX response from the peer at from
// (its ID and the IP of the connection it answered on). It reads nothing
// from a response that was not requested (or came after the timeout) and
// returns ErrPexUnsolicited; it reads the first Config.MaxPexAddrs addresses
// of a longer response and returns ErrPexTooMany (wrapped) with the excess
// counted. Each address must carry a 20-byte ID, a valid IP or DNS host and
// a port in 1-65535, be routable (unless allowed), pass Deps.Filter's
// AllowPEX, and be neither ours nor banned. A DNS host is refused
// (IgnoreName) unless Config.AllowNetworkNames is set; the node checks
// what it resolves to at each dial. New peers enter the new table
// with from as their source; a known peer's address is never changed by a
// report. The PexResult is valid whatever the error.
func (b *Book) IngestPex(from crypto.Address, resp *pb.PexResponse) (PexResult, error) {
	now := b.deps.Clock.Now()
	addrs := resp.GetAddrs()
	res := PexResult{From: from.ID, Received: len(addrs)}
	b.mu.Lock()
	defer b.mu.Unlock()
	ask, ok := b.mu.pexOut[from.ID]
	if !ok || now.After(ask.deadline) {
		delete(b.mu.pexOut, from.ID)
		res.Unsolicited = true
		return res, ErrPexUnsolicited
	}
	if ask.n--; ask.n == 0 {
		delete(b.mu.pexOut, from.ID)
	} else {
		b.mu.pexOut[from.ID] = ask
	}
	var err error
	if len(addrs) > b.cfg.MaxPexAddrs {
		res.Excess = len(addrs) - b.cfg.MaxPexAddrs
		addrs = addrs[:b.cfg.MaxPexAddrs]
		err = fmt.Errorf("%w: %d addresses, limit %d", ErrPexTooMany, res.Received, b.cfg.MaxPexAddrs)
	}
	src := Source{Kind: SourcePEX, From: from.ID, Host: from.Host}
	seen := make(map[crypto.ID]struct{}, len(addrs))
	for _, pa := range addrs {
		addr, reason := parsePexAddr(pa)
		if reason == ignoreNone {
			if _, dup := seen[addr.ID]; dup {
				reason = IgnoreDuplicate
			}
			seen[addr.ID] = struct{}{}
		}
		if reason == ignoreNone {
			reason = b.admitPex(addr, src, now)
		}
		if reason != ignoreNone {
			res.ignore(reason)
			continue
		}
		res.Added++
	}
	return res, err
}

// AddDHT stores addr, found by a DHT lookup in its owner's signed record,
// under the checks of a PEX address: routable (unless allowed), a DNS
// name only if Config.AllowNetworkNames, passes Deps.Filter's AllowPEX,
// neither ours nor banned. Its source group is the address's own group,
// as for an inbound advert. A known peer's address is never changed.
// It returns nil if the peer is stored (or known), else the reason.
func (b *Book) AddDHT(addr crypto.Address) error {
	if _, err := validAddress(addr); err != nil {
		return err
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.admitPex(addr, Source{Kind: SourceDHT}, now)
	if r == IgnoreKnown {
		return nil
	}
	return r.err()
}

// parsePexAddr validates a wire address into its canonical form.
func parsePexAddr(pa *pb.PeerAddress) (crypto.Address, IgnoreReason) {
	id, err := crypto.IDFromBytes(pa.GetId())
	port := pa.GetPort()
	host := pa.GetHost()
	if err != nil || id.IsZero() || port == 0 || port > 65535 || host == "" || len(host) > 253 {
		return crypto.Address{}, IgnoreInvalid
	}
	// An IPv4 host (most of what peers send) is its own canonical form:
	// skip formatting "ID@host:port" only to parse it back, which cost a
	// fifth of a PEX answer's ingestion. Anything else takes the full
	// parse (TestParsePexAddrFastPath checks the two agree).
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return crypto.Address{ID: id, Host: ip.String(), Port: uint16(port)}, ignoreNone
	}
	addr, err := crypto.ParseAddress(id.String() + "@" + net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		return crypto.Address{}, IgnoreInvalid
	}
	return addr, ignoreNone
}

// admitPex runs the checks that need the book, then stores addr.
func (b *Book) admitPex(addr crypto.Address, src Source, now time.Time) IgnoreReason {
	if addr.ID == b.deps.SelfID {
		return IgnoreSelf
	}
	ap, isIP := addr.AddrPort()
	ip := ap.Addr()
	if r := b.checkHost(addr.Host, ip); r != ignoreNone {
		return r
	}
	if isIP && b.deps.Filter != nil {
		if ok, _ := b.deps.Filter.AllowPEX(ip); !ok {
			return IgnoreFiltered
		}
	}
	return b.addLocked(addr, ip, src, now)
}
