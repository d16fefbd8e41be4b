package dht

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/crypto"
)

// MsgType is a DHT message's first byte (docs/PROTOCOL.md §10.2).
type MsgType uint8

// Message types. FIND_NODE and PING are requests; NODES and PONG their
// responses.
const (
	MsgFindNode MsgType = 1
	MsgNodes    MsgType = 2
	MsgPing     MsgType = 3
	MsgPong     MsgType = 4
)

// ErrBadMessage is returned (wrapped) for a message that does not decode.
var ErrBadMessage = errors.New("dht: bad message")

// Message is a decoded DHT message. Self and Nodes are encoded records,
// not yet verified (DecodeRecord does that).
type Message struct {
	Type MsgType
	// Target is the ID a FIND_NODE looks for.
	Target crypto.ID
	// Self is the sender's own record: in a FIND_NODE or PING from a
	// server, and in every NODES and PONG. Empty from a client.
	Self []byte
	// Nodes are the records a NODES message carries, at most MaxNodes.
	Nodes [][]byte
}

// Encode returns m's wire form, or an error if a record or the node count
// is over its bound.
func (m *Message) Encode() ([]byte, error) {
	if len(m.Self) > MaxRecordSize {
		return nil, fmt.Errorf("dht: own record of %d bytes, at most %d", len(m.Self), MaxRecordSize)
	}
	b := []byte{byte(m.Type)}
	switch m.Type {
	case MsgFindNode:
		b = append(b, m.Target[:]...)
	case MsgNodes, MsgPing, MsgPong:
	default:
		return nil, fmt.Errorf("dht: message type %d", m.Type)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Self)))
	b = append(b, m.Self...)
	if m.Type != MsgNodes {
		return b, nil
	}
	if len(m.Nodes) > MaxNodes {
		return nil, fmt.Errorf("dht: %d nodes in a NODES message, at most %d", len(m.Nodes), MaxNodes)
	}
	b = append(b, byte(len(m.Nodes)))
	for _, r := range m.Nodes {
		if len(r) == 0 || len(r) > MaxRecordSize {
			return nil, fmt.Errorf("dht: record of %d bytes, 1-%d", len(r), MaxRecordSize)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r)))
		b = append(b, r...)
	}
	return b, nil
}

// DecodeMessage decodes a message. It refuses one over MaxMessageSize, of
// an unknown type, with a record over MaxRecordSize (or an empty one in a
// list), more than MaxNodes records, or trailing bytes. The slices of the
// result alias b.
func DecodeMessage(b []byte) (*Message, error) {
	bad := func(why string) (*Message, error) { return nil, fmt.Errorf("%w: %s", ErrBadMessage, why) }
	if len(b) > MaxMessageSize {
		return bad(fmt.Sprintf("%d bytes, at most %d", len(b), MaxMessageSize))
	}
	if len(b) == 0 {
		return bad("empty")
	}
	m := &Message{Type: MsgType(b[0])}
	b = b[1:]
	switch m.Type {
	case MsgFindNode:
		if len(b) < crypto.IDLen {
			return bad("truncated target")
		}
		copy(m.Target[:], b)
		b = b[crypto.IDLen:]
	case MsgNodes, MsgPing, MsgPong:
	default:
		return bad(fmt.Sprintf("type %d", m.Type))
	}
	rec := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if n > MaxRecordSize || len(b) < 2+n {
			return nil, false
		}
		r := b[2 : 2+n]
		b = b[2+n:]
		return r, true
	}
	self, ok := rec()
	if !ok {
		return bad("truncated or oversized own record")
	}
	if len(self) > 0 {
		m.Self = self
	}
	if m.Type == MsgNodes {
		if len(b) < 1 {
			return bad("truncated node count")
		}
		n := int(b[0])
		b = b[1:]
		if n > MaxNodes {
			return bad(fmt.Sprintf("%d nodes, at most %d", n, MaxNodes))
		}
		m.Nodes = make([][]byte, 0, n)
		for range n {
			r, ok := rec()
			if !ok || len(r) == 0 {
				return bad("truncated, empty or oversized record")
			}
			m.Nodes = append(m.Nodes, r)
		}
	}
	if len(b) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)))
	}
	return m, nil
}
