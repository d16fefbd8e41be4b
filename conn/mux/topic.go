package mux

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// TopicConfig declares one topic: a stream of messages of one kind (votes,
// blocks, transactions, PEX…) multiplexed over a MultiConn. The zero value
// of each optional field means its documented default.
type TopicConfig struct {
	// ID identifies the topic on the wire, 1–255. 0 is the control topic.
	ID uint8
	// Name is for logs and stats, at most 64 bytes of UTF-8. Optional.
	Name string
	// Priority orders topics for sending: a packet of a higher priority is
	// always sent before one of a lower priority; topics of equal priority
	// take turns packet by packet. Default 0.
	Priority uint8
	// MaxMessageSize is the largest message in bytes that may be sent or
	// received on this topic, at most MaxMessageSizeLimit (1 GiB). A peer
	// that announces a longer message is a protocol violation. Default 1 MiB.
	MaxMessageSize int
	// SendQueue bounds how many messages wait to be sent on this topic
	// (including the one being sent). Send blocks and TrySend fails while it
	// is full. Default 256.
	SendQueue int
	// SendQueueBytes bounds the bytes of the messages waiting to be sent on
	// this topic (including the one being sent), so that a peer that stops
	// returning credit pins a bounded amount of our memory. Send blocks and
	// TrySend fails while a message would take the queue past it; it must be
	// at least MaxMessageSize, so that any message fits an empty queue.
	// Default max(MaxMessageSize, min(max(4 × MaxMessageSize, 1 MiB), 16 MiB)):
	// 1 MiB for 64 KiB topics, 4 MiB for 1 MiB topics, one message for
	// topics of 16 MiB and more.
	SendQueueBytes int
	// RecvWindow is the inbound credit in bytes: how many bytes of this
	// topic's messages (each counted as its length plus
	// MessageCreditOverhead) the peer may send that the application has not
	// yet consumed (Message.Done). It bounds what one peer can make us hold
	// on this topic. It must be at least MaxMessageSize +
	// MessageCreditOverhead and at most MaxRecvWindow. Default
	// max(2 × MaxMessageSize, 1 MiB) + MessageCreditOverhead.
	RecvWindow int
	// InboundRate limits inbound messages per second on this topic; 0 means
	// unlimited. Excess messages are still delivered but reported through
	// Config.OnRateExcess; persistent excess ends the connection.
	InboundRate float64
	// InboundBurst is how many messages may arrive at once under
	// InboundRate. Default max(1, ceil(InboundRate)).
	InboundBurst int
}

// withDefaults returns tc with defaults applied, or an error naming the
// first invalid field.
func (tc TopicConfig) withDefaults() (TopicConfig, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mux: topic %d (%q): "+format, append([]any{tc.ID, tc.Name}, args...)...)
	}
	if tc.ID == 0 {
		return tc, bad("ID 0 is reserved for control messages")
	}
	if len(tc.Name) > 64 || !utf8.ValidString(tc.Name) {
		return tc, bad("Name must be at most 64 bytes of UTF-8")
	}
	if tc.MaxMessageSize == 0 {
		tc.MaxMessageSize = DefaultMaxMessageSize
	}
	if tc.MaxMessageSize < 0 || tc.MaxMessageSize > MaxMessageSizeLimit {
		return tc, bad("MaxMessageSize %d outside 1-%d", tc.MaxMessageSize, MaxMessageSizeLimit)
	}
	if tc.SendQueue == 0 {
		tc.SendQueue = DefaultSendQueue
	}
	if tc.SendQueue < 0 {
		return tc, bad("SendQueue %d is negative", tc.SendQueue)
	}
	if tc.SendQueueBytes == 0 {
		tc.SendQueueBytes = defaultSendQueueBytes(tc.MaxMessageSize)
	}
	if tc.SendQueueBytes < tc.MaxMessageSize {
		return tc, bad("SendQueueBytes %d below MaxMessageSize %d: the largest message could never be queued",
			tc.SendQueueBytes, tc.MaxMessageSize)
	}
	minWindow := tc.MaxMessageSize + MessageCreditOverhead
	if tc.RecvWindow == 0 {
		tc.RecvWindow = min(max(2*tc.MaxMessageSize, minDefaultRecvWindow)+MessageCreditOverhead, MaxRecvWindow)
	}
	if tc.RecvWindow < minWindow || tc.RecvWindow > MaxRecvWindow {
		return tc, bad("RecvWindow %d outside %d-%d (MaxMessageSize + %d up to MaxRecvWindow)",
			tc.RecvWindow, minWindow, MaxRecvWindow, MessageCreditOverhead)
	}
	if tc.InboundRate < 0 || tc.InboundRate != tc.InboundRate {
		return tc, bad("InboundRate %v is negative", tc.InboundRate)
	}
	if tc.InboundBurst < 0 {
		return tc, bad("InboundBurst %d is negative", tc.InboundBurst)
	}
	if tc.InboundRate > 0 && tc.InboundBurst == 0 {
		tc.InboundBurst = max(1, int(tc.InboundRate+0.999999))
	}
	return tc, nil
}

// defaultSendQueueBytes returns the default SendQueueBytes of a topic whose
// largest message is maxMsg bytes (see mcconstants.go for the reasons).
func defaultSendQueueBytes(maxMsg int) int {
	return max(maxMsg, min(max(sendQueueBytesFactor*maxMsg, minDefaultSendQueueBytes), maxDefaultSendQueueBytes))
}

// inboundLimiter returns the topic's inbound message limiter, or nil when
// the topic is unlimited.
func (tc *TopicConfig) inboundLimiter() *rate.Limiter {
	if tc.InboundRate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(tc.InboundRate), tc.InboundBurst)
}

// TopicIDs returns the IDs of topics in ascending order, one byte each: the
// form SecureConfig.Meta.Topics expects, so that a node declares exactly
// the topics its Config serves.
func TopicIDs(topics []TopicConfig) []byte {
	ids := make([]byte, 0, len(topics))
	for _, tc := range topics {
		ids = append(ids, tc.ID)
	}
	slices.Sort(ids)
	return ids
}

// checkTopicList reports whether ids is a valid declared-topic list: strictly
// ascending IDs of 1–255.
func checkTopicList(ids []byte) error {
	for i, id := range ids {
		if id == 0 {
			return fmt.Errorf("mux: declared topic list contains 0")
		}
		if i > 0 && ids[i-1] >= id {
			return fmt.Errorf("mux: declared topic list is not strictly ascending at %d", id)
		}
	}
	return nil
}

// topicSet is a set of topic IDs, 32 bytes.
type topicSet [4]uint64

func (s *topicSet) add(id uint8)      { s[id>>6] |= 1 << (id & 63) }
func (s *topicSet) has(id uint8) bool { return s[id>>6]&(1<<(id&63)) != 0 }
func topicSetOf(ids []byte) (s topicSet) {
	for _, id := range ids {
		s.add(id)
	}
	return s
}
