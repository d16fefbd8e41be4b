package mux

// Reassembly: the receiver's memory for a message grows with the bytes that
// arrived, never with the length its first packet declares (a peer could
// otherwise declare a 64 MiB message, send one byte and pin 64 MiB for as
// long as it likes). A message is read into, in turn:
//
//  1. a head buffer of at most max(first packet, reassemblyMinBuf) bytes,
//     which is the whole message when the message is that short;
//  2. pooled chunks (the reader's bufPool buffers) for the bytes after
//     the head;
//  3. once half the message has arrived, one buffer of its full length:
//     head and chunks are copied into it, the chunks go back to the pool,
//     and the second half is read straight into it.
//
// So a partial message holds at most twice its arrived bytes plus one head
// and one chunk, and a complete one is a single slice of exactly its length.
// The switch to one buffer may come earlier, once a sixteenth of the
// message has arrived, if the bytes it still lacks fit in the connection's
// early budget (reassemblyEarlyBudget): those bytes are taken from it until
// the message is complete. A long message that streams in then copies a
// sixteenth of itself, not half (16 MiB messages: 1 MiB, not 8), and what
// a peer can pin beyond twice the arrived bytes is still a per-connection
// constant: reassemblyEagerBudget + reassemblyEarlyBudget, whatever it
// declares.
// From 64 KiB up, that slice lies in a buffer of its size class (pool.go:
// under 1.25× the message), which Message.Release hands to later messages;
// the bounds here count the message's length, the buffer is at most a
// quarter more.
// The price is one extra copy of the first half of long messages (measured
// by BenchmarkReassembly). Two kinds of message skip it and are allocated
// whole at their first packet: those whose first packet carries half or
// more, and those of at most reassemblyEagerMax bytes while the
// connection's partial messages allocated that way total at most
// reassemblyEagerBudget, a constant a peer can pin per connection
// whatever it declares.

// reassembly is the message being received on one topic. It is used by the
// reader goroutine only.
type reassembly struct {
	total  int       // declared length
	n      int       // bytes arrived
	eager  bool      // allocated whole at the first packet under the budget
	early  int       // early budget taken by an early switch to one buffer
	buf    []byte    // cap == total once whole; else the head
	full   *[]byte   // the pooled buffer behind buf once whole (newMsgBuf), or nil
	chunks []*[]byte // pooled; before that, the bytes after the head
}

// rxBudget is what one connection's partial messages may hold beyond twice
// their arrived bytes: eager is reassemblyEagerBudget less the messages
// allocated whole at their first packet, early is reassemblyEarlyBudget
// less what early switches to one buffer took. Reader only.
type rxBudget struct{ eager, early int }

func newRxBudget() rxBudget {
	return rxBudget{eager: reassemblyEagerBudget, early: reassemblyEarlyBudget}
}

// start begins a message of total bytes whose first packet carries first,
// taking from budget what it allocates ahead of arrival; finish gives that
// back.
func (r *reassembly) start(total, first int, budget *rxBudget) {
	r.total, r.n, r.eager, r.early = total, 0, false, 0
	switch {
	case total <= max(reassemblyMinBuf, 2*first):
		r.buf, r.full = newMsgBuf(0, total)
	case total <= reassemblyEagerMax && total <= budget.eager:
		budget.eager -= total
		r.eager = true
		r.buf, r.full = newMsgBuf(0, total)
	default:
		r.buf = make([]byte, 0, max(first, reassemblyMinBuf))
	}
}

// finish gives back the budget the message took.
func (r *reassembly) finish(budget *rxBudget) {
	if r.eager {
		budget.eager += r.total
		r.eager = false
	}
	budget.early += r.early
	r.early = 0
}

// switchNow reports whether a message that will have arrived bytes after
// the packet being read moves to one buffer now: at half the message, or
// from a sixteenth on if what it still lacks fits in the early budget,
// which it then takes.
func (r *reassembly) switchNow(arrived int, budget *rxBudget) bool {
	if 2*arrived >= r.total {
		return true
	}
	if lack := r.total - arrived; 16*arrived >= r.total && lack <= budget.early {
		budget.early -= lack
		r.early = lack
		return true
	}
	return false
}

// rest returns how many bytes the message still lacks.
func (r *reassembly) rest() int { return r.total - r.n }

// complete reports whether every byte has arrived.
func (r *reassembly) complete() bool { return r.n == r.total }

// read reads the next n payload bytes of the message from pr; n ≤ rest().
func (r *reassembly) read(pr *packetReader, n int, budget *rxBudget) error {
	whole := cap(r.buf) == r.total
	if !whole && (len(r.chunks) > 0 || len(r.buf)+n > cap(r.buf)) && r.switchNow(r.n+n, budget) {
		r.commit()
		whole = true
	}
	if whole || len(r.buf)+n <= cap(r.buf) {
		off := len(r.buf)
		r.buf = r.buf[:off+n]
		r.n += n
		return pr.readFull(r.buf[off:])
	}
	if room := cap(r.buf) - len(r.buf); room > 0 {
		off := len(r.buf)
		r.buf = r.buf[:cap(r.buf)]
		r.n += room
		n -= room
		if err := pr.readFull(r.buf[off:]); err != nil {
			return err
		}
	}
	for n > 0 {
		off := (r.n - len(r.buf)) % bufLen
		if off == 0 {
			r.chunks = append(r.chunks, bufPool.Get().(*[]byte))
		}
		c := *r.chunks[len(r.chunks)-1]
		m := min(n, bufLen-off)
		r.n += m
		n -= m
		if err := pr.readFull(c[off : off+m]); err != nil {
			return err
		}
	}
	return nil
}

// commit moves what arrived into one buffer of the message's full length.
func (r *reassembly) commit() {
	b, full := newMsgBuf(r.n, r.total)
	off := copy(b, r.buf)
	for _, c := range r.chunks {
		off += copy(b[off:], *c)
	}
	r.releaseChunks()
	r.buf, r.full = b, full
}

// take returns the complete message, with the pooled buffer behind it if
// it has one, and resets r.
func (r *reassembly) take() ([]byte, *[]byte) {
	b, full := r.buf, r.full
	*r = reassembly{chunks: r.chunks[:0]}
	return b, full
}

// releaseChunks gives the chunks back to the pool.
func (r *reassembly) releaseChunks() {
	for i, c := range r.chunks {
		bufPool.Put(c)
		r.chunks[i] = nil
	}
	r.chunks = r.chunks[:0]
}

// reset drops a partial message, giving its chunks back.
func (r *reassembly) reset() {
	r.releaseChunks()
	*r = reassembly{}
}
