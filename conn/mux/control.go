package mux

// Control message types: the second header byte of a packet on topic 0.
const (
	// ctrlSettings is each side's first packet: its receive limits.
	ctrlSettings uint8 = 1
	// ctrlPing asks for a pong with the same 8-byte nonce.
	ctrlPing uint8 = 2
	// ctrlPong answers the most recent ping.
	ctrlPong uint8 = 3
	// ctrlWindowUpdate grants credit on one or more topics.
	ctrlWindowUpdate uint8 = 4
	// ctrlGoAway is the last packet its sender sends: code and text.
	ctrlGoAway uint8 = 5
	// ctrlAck acknowledges the data-packet bytes read so far.
	ctrlAck uint8 = 6
)

// Control body sizes in bytes.
const (
	// settingsFixedLen: version u8, max packet payload u16, inbound byte rate u32.
	settingsFixedLen = 1 + 2 + 4
	// settingsEntryLen: topic u8, max message size u32, receive window u32.
	settingsEntryLen = 1 + 4 + 4
	// nonceLen: ping and pong bodies.
	nonceLen = 8
	// windowEntryLen: topic u8, increment u32.
	windowEntryLen = 1 + 4
	// ackLen: cumulative data bytes read, u64.
	ackLen = 8
)

// controlBodyBounds returns the shortest and longest valid body of control
// type typ, and false for an unknown type. The reader checks them before
// reading the body.
func controlBodyBounds(typ uint8) (lo, hi int, ok bool) {
	switch typ {
	case ctrlSettings:
		return settingsFixedLen, maxControlBody, true
	case ctrlPing, ctrlPong:
		return nonceLen, nonceLen, true
	case ctrlWindowUpdate:
		return windowEntryLen, 255 * windowEntryLen, true
	case ctrlGoAway:
		return 1, 1 + maxGoAwayText, true
	case ctrlAck:
		return ackLen, ackLen, true
	}
	return 0, 0, false
}

// WINDOW_UPDATE is encoded in place, as the writer walks its topics:
// startWindowUpdate, one appendWindowEntry per topic granted, then
// endWindowUpdate. The writer (MultiConn.appendWindowUpdates) and the
// fuzz target use exactly these.
