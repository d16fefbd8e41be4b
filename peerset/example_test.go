package peerset_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/peerset"
)

// conn stands in for the Node's adapter around a MultiConn.
type conn struct{ name string }

func (c conn) Close(r peerset.DisconnectReason, text string) error {
	fmt.Printf("close %s: %v\n", c.name, r)
	return nil
}

func id(b byte) crypto.ID {
	var x crypto.ID
	x[0] = b
	return x
}

// Example shows the calls the Node makes on accept, on a transport event
// and on disconnect.
func Example() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake() // the Node passes its own clock
	clk.Set(now)
	set, err := peerset.New(peerset.Config{MaxInbound: 1}, peerset.Deps{Self: id(0xee), Clock: clk})
	if err != nil {
		panic(err)
	}
	accept := func(peer crypto.ID, remote string) *peerset.Peer {
		c := conn{remote}
		p, replaced, err := set.Admit(peerset.PeerInfo{
			ID: peer, Direction: peerset.Inbound, Remote: netip.MustParseAddrPort(remote), Conn: c,
		}, now)
		if err != nil {
			fmt.Println("refused:", err)
			_ = c.Close(peerset.ReasonOf(err), err.Error())
			return nil
		}
		_ = replaced.Disconnect(peerset.ReasonDuplicate, "")
		return p
	}
	p := accept(id(1), "198.51.100.1:26656")
	accept(id(2), "198.51.100.2:26656") // inbound is full

	// Three protocol violations take the score to the ban threshold.
	for range 3 {
		if ban := set.Record(p.ID, peerset.EventProtocolViolation); ban != nil {
			fmt.Printf("ban %s until %s: %s\n", ban.ID.Short(), ban.Until.Format(time.Kitchen), ban.Reason)
			_ = ban.Peer.Disconnect(peerset.ReasonLowReputation, ban.Reason)
		}
	}
	fmt.Println("connected:", set.Len(), "removed again:", set.Remove(p))
	// Output:
	// refused: peerset: refused 02000000: too-many-peers (inbound 1/1)
	// close 198.51.100.2:26656: too-many-peers
	// ban 01000000 until 1:00AM: score -120.0 at or below -100.0 after protocol-violation
	// close 198.51.100.1:26656: low-reputation
	// connected: 0 removed again: false
}

// ExampleSet_Admit_duplicate shows two nodes that dialed each other at the
// same moment keeping the same connection: the one dialed by the lower ID.
func ExampleSet_Admit_duplicate() {
	now := time.Now()
	a, b := id(1), id(2)
	for _, self := range []crypto.ID{a, b} {
		other := b
		if self == b {
			other = a
		}
		set, _ := peerset.New(peerset.Config{}, peerset.Deps{Self: self})
		// Each node sees its own outbound dial and the other's inbound one.
		out := conn{"dialed by " + self.Short()}
		in := conn{"dialed by " + other.Short()}
		remote := netip.MustParseAddrPort("198.51.100.1:26656")
		set.Admit(peerset.PeerInfo{ID: other, Direction: peerset.Outbound, Remote: remote, Conn: out}, now)
		_, replaced, err := set.Admit(peerset.PeerInfo{ID: other, Direction: peerset.Inbound, Remote: remote, Conn: in}, now)
		if err != nil {
			_ = in.Close(peerset.ReasonOf(err), "")
		}
		_ = replaced.Disconnect(peerset.ReasonDuplicate, "")
		st, _ := set.Get(other)
		fmt.Printf("%s keeps the connection %s\n", self.Short(), st.Peer.Conn.(conn).name)
	}
	// Output:
	// close dialed by 02000000: duplicate
	// 01000000 keeps the connection dialed by 01000000
	// close dialed by 02000000: duplicate
	// 02000000 keeps the connection dialed by 01000000
}

// ExampleSet_DueRedials shows one round of the Node's must-connect redial
// service.
func ExampleSet_DueRedials() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	mc, _ := crypto.ParseAddress("0100000000000000000000000000000000000000@192.0.2.7:26656")
	set, _ := peerset.New(peerset.Config{MustConnect: []crypto.Address{mc}}, peerset.Deps{Self: id(0xee)})
	for _, addr := range set.DueRedials(now) {
		fmt.Println("dial", addr.HostPort())
		// The dial failed:
		next := set.RedialFailed(addr.ID, now)
		fmt.Println("next attempt within", next.Sub(now) <= peerset.DefaultRedialBase)
	}
	at, _ := set.EarliestRedial(now)
	fmt.Println("sleep until then:", at.After(now))
	// Output:
	// dial 192.0.2.7:26656
	// next attempt within true
	// sleep until then: true
}
