package mux

import "github.com/peerwire/peerwire/conn"

import "time"

// Limits and defaults of MultiConn. Each wire limit is part of the protocol
// (docs/PROTOCOL.md §8); each default is what a zero field of
// Config or TopicConfig means.

// Wire limits.
const (
	// frameBudget is the number of application bytes one EncryptedConn Write
	// turns into one frame (and one syscall): MaxFramePayload. The writer never
	// hands the transport more than this in one call.
	frameBudget = conn.MaxFramePayload

	// packetHeaderLen is the length in bytes of every packet header:
	// topic, flags or control type, payload length.
	packetHeaderLen = 4
	// firstHeaderLen is the header length of the first packet of a message,
	// which adds the 4-byte total message length.
	firstHeaderLen = packetHeaderLen + 4

	// MaxPacketPayloadLimit is the largest packet payload in bytes that a
	// MultiConn accepts from a peer or can be configured to send: one
	// first-packet header plus this payload fill exactly one frame.
	MaxPacketPayloadLimit = frameBudget - firstHeaderLen
	// MinPacketPayload is the smallest MaxPacketPayload in bytes a Config
	// may set; smaller packets only waste headers.
	MinPacketPayload = 512

	// MaxMessageSizeLimit is the largest message in bytes any topic may allow
	// (1 GiB): total lengths are 32-bit and a peer must never make us
	// allocate more than this for one message.
	MaxMessageSizeLimit = 1 << 30

	// MessageCreditOverhead is the credit in bytes that each message costs on
	// top of its length, so that even empty messages use up the receiver's
	// window and the number of messages a peer can make us hold is bounded
	// by RecvWindow / MessageCreditOverhead.
	MessageCreditOverhead = 64

	// MaxRecvWindow is the largest per-topic receive window in bytes (2 GiB - 1):
	// windows travel as 32-bit numbers.
	MaxRecvWindow = 1<<31 - 1

	// MaxSendPrefix is the longest prefix in bytes SendPrefixed copies in
	// front of a message (16: a kind byte and a request ID of the layer
	// above, with room to spare); it lives in the queue entry itself.
	MaxSendPrefix = 16

	// maxGoAwayText is the longest goaway text in bytes; longer text is cut.
	maxGoAwayText = 256

	// maxControlBody is the longest control-message body in bytes: a
	// SETTINGS message declaring all 255 topics and maxFeatures features
	// with the longest values (4480 bytes).
	maxControlBody = settingsFixedLen + 1 + 255*settingsEntryLen + 1 + maxFeatures*(featureEntryLen+MaxFeatureValue)

	// maxIgnoredControlBody bounds the body of a control message of an
	// unknown type marked ignorable (ctrlIgnorable): the longest body a
	// known type may have, so skipping one costs no more than reading any
	// other.
	maxIgnoredControlBody = maxControlBody

	// maxFeatures is the most features one SETTINGS may advertise: far more
	// than a protocol grows in years, few enough that checking them is free.
	maxFeatures = 32
	// MaxFeatureValue is the longest value of one feature in bytes: a
	// parameter or two, not a data channel.
	MaxFeatureValue = 64
)

// Defaults (the meaning of a zero field).
const (
	// DefaultMaxPacketPayload is the default largest packet payload in bytes
	// (16 KiB): a packet of a lower-priority message delays a higher-priority
	// one by at most ~16 KiB of wire time, 130 µs at 1 Gbit/s.
	DefaultMaxPacketPayload = 16 << 10

	// DefaultMaxMessageSize is the default largest message of a topic (1 MiB).
	DefaultMaxMessageSize = 1 << 20

	// DefaultSendQueue is the default number of messages a topic queues for
	// sending before Send blocks and TrySend fails.
	DefaultSendQueue = 256

	// sendQueueBytesFactor, minDefaultSendQueueBytes and
	// maxDefaultSendQueueBytes derive a topic's default SendQueueBytes:
	// max(MaxMessageSize, min(max(4 × MaxMessageSize, 1 MiB), 16 MiB)).
	// Four largest messages keep the writer busy while senders refill the
	// queue (a message leaves it once written, so the queue only has to
	// cover the senders' latency, not the link's); the 1 MiB floor leaves
	// small-message topics bounded by SendQueue (256 messages) rather than
	// bytes; the 16 MiB cap bounds what one peer that stops returning credit
	// pins per topic (before: 256 × MaxMessageSize, 16 GiB on a 64 MiB
	// topic), while a topic of huge messages can still queue one of them.
	sendQueueBytesFactor     = 4
	minDefaultSendQueueBytes = 1 << 20
	maxDefaultSendQueueBytes = 16 << 20

	// minDefaultRecvWindow is the smallest default receive window in bytes
	// (1 MiB); the default is max(2 × MaxMessageSize, this) so that a
	// sender can keep one message in flight while the previous one is
	// consumed.
	minDefaultRecvWindow = 1 << 20

	// maxWindowUpdateThreshold caps the credit in bytes the receiver gathers
	// before it sends a window update: updates go out when a quarter of the
	// window or 64 KiB has been consumed, whichever is smaller.
	maxWindowUpdateThreshold = 64 << 10

	// DefaultPingInterval is how often a ping is sent (10 s). Pings measure
	// RTT; they are not needed for liveness while other traffic flows.
	DefaultPingInterval = 10 * time.Second

	// DefaultIdleTimeout is how long a peer may send nothing at all before it
	// is declared dead (60 s). Any authenticated inbound byte counts, pongs
	// are never queued behind bulk data (control goes first, packets are
	// ≤ 16 KiB, the kernel's unsent queue is capped by TCP_NOTSENT_LOWAT), so a
	// validator on a 200 ms transatlantic link receiving a 64 MiB block at
	// 10 Mbit/s (54 s) still answers each ping within a second and is never
	// dropped; 60 s is six missed pings.
	DefaultIdleTimeout = 60 * time.Second

	// The default CreditStallTimeout is the IdleTimeout: a peer that
	// returns no credit on a topic for which we hold queued messages is as
	// good as one that does not read the socket (the "write blocked" case
	// of IdleTimeout) — it pins what we queued for it — and is cut off
	// after as long. An honest receiver grants credit back as its
	// application consumes each message; the window (2 × MaxMessageSize by
	// default) keeps one message in flight while the previous one is
	// consumed, so a slow link alone never stalls credit.

	// DefaultCloseTimeout bounds a graceful close (5 s): the time to flush
	// queued messages, send the goaway and wait for the peer to close.
	DefaultCloseTimeout = 5 * time.Second

	// DefaultSetupTimeout bounds the SETTINGS exchange in New when
	// the context has no earlier deadline (10 s).
	DefaultSetupTimeout = 10 * time.Second

	// DefaultNotSentLowat is the default TCP_NOTSENT_LOWAT in bytes (128 KiB):
	// at most this much unsent data waits in the kernel in front of a
	// consensus message; 1 ms at 1 Gbit/s.
	DefaultNotSentLowat = 128 << 10

	// DefaultPingRate is how many inbound pings (and unsolicited pongs) per
	// second a peer may send on average (1/s, ten times our default rate).
	DefaultPingRate = 1.0
	// DefaultPingBurst is how many inbound pings a peer may send at once.
	DefaultPingBurst = 10

	// DefaultExcessTolerance is how many inbound rate-limit excesses are
	// tolerated within DefaultExcessPeriod before the connection is closed
	// with goaway "rate limit".
	DefaultExcessTolerance = 100
	// DefaultExcessPeriod is the period over which excess is counted (10 s).
	DefaultExcessPeriod = 10 * time.Second

	// recvRateBurst is how many seconds of the configured inbound byte rate a
	// peer may send at once before it counts as excess: network bunching
	// makes a conforming sender look bursty at the receiver.
	recvRateBurst = 2
	// sendRateBurstDiv: the outbound limiter's burst is rate/10 (100 ms worth)
	// but never less than one frame.
	sendRateBurstDiv = 10

	// goAwayWriteTimeout bounds the write of a goaway when the connection is
	// aborted; a peer that does not read does not hold us up.
	goAwayWriteTimeout = time.Second
	// setupDrainMax bounds what a refused setup reads (and discards) from
	// the peer while it waits for the peer to close after the goaway
	// (256 KiB: a few frames in flight; a flood is cut there).
	setupDrainMax = 256 << 10
	// abortLinger is how long Abort waits for the peer to close after the
	// goaway, so the goaway is not lost to a TCP reset.
	abortLinger = time.Second

	// smallReadLen is the size of the fixed read buffer an idle reader blocks
	// on: a header plus a ping, an ACK or a 64-byte vote fits, and nothing
	// bigger is held while idle.
	smallReadLen = 128
	// directReadMin: payload remainders at least this long are read straight
	// into the message buffer instead of through the pooled read buffer.
	directReadMin = 4 << 10
	// reassemblyMinBuf is the head buffer of a message much longer than its
	// first packet (16 KiB, one default packet); later bytes go to pooled
	// chunks until half the message has arrived (conn/reassembly.go). So
	// 255 topics' worth of barely started messages pin at most ~4 MiB per
	// connection, whatever lengths they declare.
	reassemblyMinBuf = 16 << 10
	// reassemblyEagerMax and reassemblyEagerBudget: messages of at most
	// 1 MiB (the default MaxMessageSize) are allocated whole at their first
	// packet, saving reassembly's copy, while the connection's partial
	// messages allocated so total at most 4 MiB; beyond that they grow with
	// the bytes that arrive. A peer can thus pin 4 MiB per connection by
	// declaring messages it does not send, not the sum of its windows.
	reassemblyEagerMax    = 1 << 20
	reassemblyEagerBudget = 4 << 20
	// reassemblyEarlyBudget: a long message switches to its one buffer once
	// a sixteenth of it has arrived, instead of half, while the bytes the
	// connection's partial messages switched so still lack total at most
	// 32 MiB (two 16 MiB messages, or half a 64 MiB one). It saves the copy
	// of up to 7/16 of each long message; a peer can pin 32 MiB more per
	// connection than the bytes it sent, never more.
	reassemblyEarlyBudget = 32 << 20
	// minBatchRoom: a data packet is not started in the last bytes of a
	// batch unless the whole remaining message fits; the next batch gets it
	// whole (256 bytes: a header and a vote).
	minBatchRoom = 256
	// bufLen is the size of the pooled read and write buffers.
	bufLen = frameBudget

	// ackEvery: the receiver acknowledges data-packet bytes each time it has
	// read this many more (32 KiB: ~8,000 ACKs/s at 256 MB/s, each a 12-byte
	// packet on the otherwise quiet reverse direction).
	ackEvery = 32 << 10
	// minInFlight is the smallest measured in-flight cap in bytes (128 KiB,
	// four ACK intervals, so an ACK is always due while the sender waits):
	// at 1 Gbit/s it drains in 1 ms, which bounds what bulk data adds to an
	// urgent message's delay on fast links.
	minInFlight = 128 << 10
	// initialInFlight is the cap before the first measurements (512 KiB).
	initialInFlight = 512 << 10
	// maxInFlight caps the in-flight limit (64 MiB: 10 Gbit/s at 50 ms).
	maxInFlight = 64 << 20
	// inFlightGain multiplies the measured bandwidth-delay product, as BBR's
	// cwnd gain: enough to keep the pipe full while the estimates lag.
	inFlightGain = 2
	// inFlightQuantumTime sizes what is added to the measured cap while
	// the connection carries bulk data only, as Linux BBR adds its
	// quantization budget: what the link delivers in this long (500 µs),
	// from inFlightQuantumMin to inFlightQuantumMax. Data moves in frames
	// of up to frameBudget bytes, and the pipeline's stages — the sender
	// sealing a frame, the kernel, the receiver opening one, its ACK on
	// the way back — each hold about one whole frame that the minimum RTT,
	// measured on the quickest sample, does not see; with the measured cap
	// alone (its 128 KiB floor on loopback) the sender waited for ACKs 15
	// times per 1 MiB message. A fixed 3 frames left it waiting ~220 times
	// per 32 MiB at 1 GB/s (1 and 16 MiB at 0.85× and 0.82× of the
	// transport, session 14); 500 µs of the rate is ~8 frames there. In
	// time rather than bytes, it also bounds what the first urgent
	// message after a quiet period waits behind (inFlightQuantumQuiet):
	// 500 µs on a fast link, 3 frames on a slow one. Next to urgent
	// traffic it is withheld: there it cost a 64-byte echo's p99 ~0.5 ms
	// on loopback (issue 13).
	inFlightQuantumTime = 500 * time.Microsecond
	inFlightQuantumMin  = 3 * frameBudget
	inFlightQuantumMax  = 16 * frameBudget
	// inFlightQuantumQuiet is how long after a packet of a priority above
	// the lowest the quantum stays withheld (1 s: consensus messages come
	// several times a second, so it stays off while they flow; a message
	// after a quiet second waits behind at most the quantum more, about
	// inFlightQuantumTime).
	inFlightQuantumQuiet = time.Second
	// inFlightHeadroom is the extra in-flight allowance of each priority
	// level above the lowest (64 KiB): urgent packets are never held back
	// by bulk data that filled the cap.
	inFlightHeadroom = 64 << 10
	// inFlightWindow is how long a minimum RTT or maximum rate sample is
	// kept before a worse one replaces it (10 s, as BBR's filters).
	inFlightWindow = 10 * time.Second
)
