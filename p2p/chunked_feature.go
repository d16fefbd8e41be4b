package p2p

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
)

// featureChunked is the protocol feature (docs/PROTOCOL.md §8.7) of a node
// with Chunked topics: REQUIRED, its value the IDs of those topics in
// ascending order, one byte each. A node that floods a topic the other
// spreads chunked would read every chunked message as malformed and
// charge the sender for it, so the two refuse each other at connection
// setup instead, with a reason that says why: a node without the feature
// is refused by the multiplexer (the feature is required), and two nodes
// whose lists differ are refused here (chunkedMismatch).
const featureChunked uint16 = 0x0002

// chunkedTopicIDs returns the IDs of the node's Chunked topics, ascending.
func (n *Node) chunkedTopicIDs() []byte {
	var ids []byte
	for id, t := range n.topics {
		if t.ck != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// chunkedFeatures returns featureChunked for a node with Chunked topics,
// nothing for one without (its SETTINGS stay as before the feature).
func (n *Node) chunkedFeatures() []mux.Feature {
	if len(n.ckTopics) == 0 {
		return nil
	}
	return []mux.Feature{{ID: featureChunked, Required: true, Value: n.ckTopics}}
}

// chunkedMismatch checks that the peer of mc spreads the same topics
// chunked as we do. It returns the IncompatibleError to report and the
// GOAWAY text for the peer, or nil when they agree. A peer without the
// feature never gets here when we have Chunked topics (the multiplexer
// refuses it), and one with it is refused by the same rule when we have
// none.
func (n *Node) chunkedMismatch(mc *mux.MultiConn) (*IncompatibleError, string) {
	theirs, _ := mc.PeerFeature(featureChunked)
	return n.chunkedMismatchText(theirs)
}

// chunkedMismatchText is chunkedMismatch for the peer's value theirs.
func (n *Node) chunkedMismatchText(theirs []byte) (*IncompatibleError, string) {
	if bytes.Equal(theirs, n.ckTopics) {
		return nil, ""
	}
	local, remote := topicList(n.ckTopics), topicList(theirs)
	return &conn.IncompatibleError{Field: "chunked_topics", Local: local, Remote: remote},
		"chunked topics " + local + " here, " + remote + " at you"
}

// topicList writes topic IDs as "2,5", or "none".
func topicList(ids []byte) string {
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
