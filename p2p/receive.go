package p2p

import (
	"context"
	"errors"
	"fmt"
)

// Receiving: a topic's messages reach the application in exactly one of
// three ways, chosen by the first call that names the topic and fixed for
// the node's life.
//
//   - Inbox (or InboxOf) returns the topic's channel; use it in a select
//     loop that also waits on other channels (timers, other topics, ctx).
//   - Next returns one message at a time and honours a context; use it in a
//     simple "for { m, err := n.Next(ctx, topic) ... }" loop.
//   - Handle registers a callback that the topic's goroutine calls for each
//     message, one at a time, in order per sender; use it for callback
//     style. The handler must return promptly: while it runs, the topic's
//     next message waits and its sender's credit stays charged, exactly as
//     with a slow reader of the channel (so memory stays bounded by credit,
//     and other topics are unaffected).
//
// Mixing them on one topic is an error (ErrReceiveMode): two readers would
// split the stream between them. Every message, however received, says in
// Message.Gossip whether it was gossiped (Publish) or sent directly (Send).

// ErrReceiveMode is returned when a topic is read in a second way (Inbox,
// Next or Handle) after the first.
var ErrReceiveMode = errors.New("p2p: topic already received another way")

// recvMode is how the application receives a topic.
type recvMode uint8

const (
	recvNone recvMode = iota
	recvInbox
	recvNext
	recvHandle
)

func (m recvMode) String() string {
	switch m {
	case recvInbox:
		return "Inbox"
	case recvNext:
		return "Next"
	case recvHandle:
		return "Handle"
	}
	return "none"
}

// claim fixes t's receive mode to m, or fails if another mode holds it.
func (t *topicState) claim(m recvMode) error {
	t.recv.Lock()
	defer t.recv.Unlock()
	if t.recv.mode != recvNone && t.recv.mode != m {
		return fmt.Errorf("%w: topic %d is read with %s, not %s", ErrReceiveMode, t.cfg.ID, t.recv.mode, m)
	}
	if t.recv.mode == recvNone {
		t.viaChannel.Store(true) // Inbox and Next both read the channel
		close(t.modeSet)
	}
	t.recv.mode = m
	return nil
}

// handlerFunc returns the registered handler, or nil.
func (t *topicState) handlerFunc() func(*Message) {
	t.recv.Lock()
	defer t.recv.Unlock()
	return t.recv.handler
}

// topic returns the state of a declared topic.
func (n *Node) topic(topic uint8) (*topicState, error) {
	t := n.topics[topic]
	if t == nil {
		return nil, fmt.Errorf("%w: %d is not in Config.Topics", ErrUnknownTopic, topic)
	}
	return t, nil
}

// InboxOf returns topic's inbox channel like Inbox, or ErrUnknownTopic for
// a topic not in Config.Topics and ErrReceiveMode when the topic is read
// with Next or Handle.
func (n *Node) InboxOf(topic uint8) (<-chan *Message, error) {
	t, err := n.topic(topic)
	if err != nil {
		return nil, err
	}
	if err := t.claim(recvInbox); err != nil {
		return nil, err
	}
	return t.inbox, nil
}

// Next returns topic's next message, waiting for one until ctx ends. It
// returns ErrUnknownTopic for a topic not in Config.Topics, ErrReceiveMode
// when the topic is read with Inbox or Handle, ctx's error when it ends
// first, and ErrClosed once the node has stopped. Next may be called from
// several goroutines; each message goes to one of them.
func (n *Node) Next(ctx context.Context, topic uint8) (*Message, error) {
	t, err := n.topic(topic)
	if err != nil {
		return nil, err
	}
	if err := t.claim(recvNext); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-t.inbox:
		if !ok {
			return nil, errStopped
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Handle registers h as topic's handler: the topic's goroutine calls it for
// each message, one at a time, in order per sender, until the node stops.
// It returns ErrUnknownTopic for a topic not in Config.Topics and
// ErrReceiveMode when the topic already has a handler or is read with Inbox
// or Next. It may be called before or after Start; messages that arrive
// before it wait for it.
func (n *Node) Handle(topic uint8, h func(*Message)) error {
	if h == nil {
		return errors.New("p2p: Handle needs a non-nil handler")
	}
	t, err := n.topic(topic)
	if err != nil {
		return err
	}
	t.recv.Lock()
	defer t.recv.Unlock()
	if t.recv.mode != recvNone {
		return fmt.Errorf("%w: topic %d is read with %s, not Handle", ErrReceiveMode, topic, t.recv.mode)
	}
	t.recv.mode = recvHandle
	t.recv.handler = h
	close(t.modeSet)
	return nil
}

// WaitPeers returns once at least count peers are connected. It follows the
// node's connect events rather than polling, and returns ctx's error when
// ctx ends first and ErrClosed once the node has stopped.
func (n *Node) WaitPeers(ctx context.Context, count int) error {
	sub := n.Subscribe()
	defer sub.Cancel()
	// Subscribed before counting: a peer that connects after the count
	// sends an event, so none is missed. Every event is a reason to count
	// again (a lost event cannot hide a later connect).
	for {
		if len(n.Peers()) >= count {
			return nil
		}
		select {
		case _, ok := <-sub.C:
			if !ok {
				return errStopped
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
