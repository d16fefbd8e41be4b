package mux

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/peerwire/peerwire/conn"
)

// Feature negotiation (docs/PROTOCOL.md §8.7). Each side advertises in its
// SETTINGS the features it speaks, each with a flag saying whether it
// requires the peer to speak it too. A feature is in use on a connection
// when both advertise it. A feature the peer advertises and we do not
// know is ignored, unless the peer requires it; then, as when we require
// one the peer does not advertise, both sides refuse the connection with an
// IncompatibleError naming the feature, and say so in a goaway
// "incompatible".

// Feature is a capability advertised in SETTINGS.
type Feature struct {
	// ID names the feature. 0x0001-0x7fff are the protocol's, defined in
	// docs/PROTOCOL.md (Config.ProtocolFeatures); 0x8000-0xffff are the
	// application's, which the multiplexer negotiates without knowing what
	// they mean.
	ID uint16
	// Required refuses a peer that does not advertise the feature.
	Required bool
	// Value is the feature's parameter, at most MaxFeatureValue bytes,
	// opaque to the multiplexer; the peer reads it with PeerFeature.
	Value []byte
}

// FirstAppFeature is the lowest feature ID an application may define.
const FirstAppFeature = 0x8000

// featureRequired is the flag bit of a feature its sender requires; the
// other bits are reserved, sent as zero and ignored.
const featureRequired uint8 = 0x01

// featureEntry is one feature as it travels in SETTINGS.
type featureEntry struct {
	id    uint16
	flags uint8 // as received, reserved bits included
	value []byte
}

func (f *featureEntry) required() bool { return f.flags&featureRequired != 0 }

// parseFeatures decodes the feature list at the end of a format-2
// SETTINGS: a count, then the entries, strictly ascending by ID, filling
// b exactly. The values are copied.
func parseFeatures(b []byte) ([]featureEntry, error) {
	m := int(b[0])
	if m > maxFeatures {
		return nil, violation(ViolationMalformedControl, 0, "settings advertise %d features, at most %d", m, maxFeatures)
	}
	b = b[1:]
	fs := make([]featureEntry, 0, m)
	for i := range m {
		if len(b) < featureEntryLen {
			return nil, violation(ViolationMalformedControl, 0, "settings feature %d truncated", i)
		}
		f := featureEntry{id: binary.BigEndian.Uint16(b), flags: b[2]}
		n := int(b[3])
		b = b[featureEntryLen:]
		switch {
		case f.id == 0 || (i > 0 && fs[i-1].id >= f.id):
			return nil, violation(ViolationMalformedControl, 0, "settings features not strictly ascending at 0x%04x", f.id)
		case n > MaxFeatureValue:
			return nil, violation(ViolationMalformedControl, 0, "settings feature 0x%04x value of %d bytes, at most %d", f.id, n, MaxFeatureValue)
		case n > len(b):
			return nil, violation(ViolationMalformedControl, 0, "settings feature 0x%04x truncated", f.id)
		}
		f.value = bytes.Clone(b[:n])
		b = b[n:]
		fs = append(fs, f)
	}
	if len(b) != 0 {
		return nil, violation(ViolationMalformedControl, 0, "settings with %d bytes after the features", len(b))
	}
	return fs, nil
}

// checkFeatures validates Config.Features (application features only) and
// returns them as SETTINGS entries, ascending.
func checkFeatures(fs []Feature) ([]featureEntry, error) {
	if len(fs) > maxFeatures {
		return nil, fmt.Errorf("conn: Config.Features: %d features, at most %d", len(fs), maxFeatures)
	}
	out := make([]featureEntry, 0, len(fs))
	for _, f := range fs {
		if f.ID < FirstAppFeature {
			return nil, fmt.Errorf("conn: Config.Features: feature 0x%04x is not an application feature (0x%04x-0xffff)", f.ID, FirstAppFeature)
		}
		if len(f.Value) > MaxFeatureValue {
			return nil, fmt.Errorf("conn: Config.Features: feature 0x%04x value of %d bytes, at most %d", f.ID, len(f.Value), MaxFeatureValue)
		}
		e := featureEntry{id: f.ID, value: bytes.Clone(f.Value)}
		if f.Required {
			e.flags = featureRequired
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b featureEntry) int { return int(a.id) - int(b.id) })
	for i := 1; i < len(out); i++ {
		if out[i].id == out[i-1].id {
			return nil, fmt.Errorf("conn: Config.Features: feature 0x%04x listed twice", out[i].id)
		}
	}
	return out, nil
}

// checkProtocolFeatures validates Config.ProtocolFeatures and returns them
// as SETTINGS entries, ascending.
func checkProtocolFeatures(fs []Feature) ([]featureEntry, error) {
	out := make([]featureEntry, 0, len(fs))
	for _, f := range fs {
		if f.ID == 0 || f.ID >= FirstAppFeature {
			return nil, fmt.Errorf("conn: Config.ProtocolFeatures: feature 0x%04x is not a protocol feature (0x0001-0x%04x)", f.ID, FirstAppFeature-1)
		}
		if len(f.Value) > MaxFeatureValue {
			return nil, fmt.Errorf("conn: Config.ProtocolFeatures: feature 0x%04x value of %d bytes, at most %d", f.ID, len(f.Value), MaxFeatureValue)
		}
		e := featureEntry{id: f.ID, value: bytes.Clone(f.Value)}
		if f.Required {
			e.flags = featureRequired
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b featureEntry) int { return int(a.id) - int(b.id) })
	for i := 1; i < len(out); i++ {
		if out[i].id == out[i-1].id {
			return nil, fmt.Errorf("conn: Config.ProtocolFeatures: feature 0x%04x listed twice", out[i].id)
		}
	}
	return out, nil
}

// negotiateFeatures returns the peer's entries of the features both sides
// advertise, or the incompatibility: a feature one side requires and the
// other does not advertise. It walks both lists in ascending order and
// names the lowest such feature, so both sides, holding the same two
// lists, name the same one.
func negotiateFeatures(ours, theirs []featureEntry) ([]featureEntry, *conn.IncompatibleError) {
	var both []featureEntry
	i, j := 0, 0
	for i < len(ours) || j < len(theirs) {
		switch {
		case j == len(theirs) || (i < len(ours) && ours[i].id < theirs[j].id):
			if ours[i].required() {
				return nil, &conn.IncompatibleError{Field: "feature", Feature: ours[i].id, Local: "required", Remote: "not spoken"}
			}
			i++
		case i == len(ours) || theirs[j].id < ours[i].id:
			if theirs[j].required() {
				return nil, &conn.IncompatibleError{Field: "feature", Feature: theirs[j].id, Local: "not spoken", Remote: "required"}
			}
			j++ // unknown to us and optional: ignored
		default:
			both = append(both, theirs[j])
			i++
			j++
		}
	}
	return both, nil
}

// incompatibleText is the goaway text telling the peer which feature
// refused it, worded for its reader: "you" is the receiver.
func incompatibleText(e *conn.IncompatibleError) string {
	if e.Local == "required" {
		return fmt.Sprintf("feature 0x%04x required here, not spoken by you", e.Feature)
	}
	return fmt.Sprintf("feature 0x%04x required by you, not spoken here", e.Feature)
}

// Version returns the protocol version negotiated in the handshake (the
// transport's, docs/PROTOCOL.md §2).
func (c *MultiConn) Version() uint16 { return c.version }

// PeerFeature returns the value the peer advertised for feature id, and
// whether the feature is in use: both sides advertised it.
func (c *MultiConn) PeerFeature(id uint16) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(c.features, id, func(f featureEntry, id uint16) int { return int(f.id) - int(id) })
	if !ok {
		return nil, false
	}
	return c.features[i].value, true
}

// Features returns the IDs of the features in use on the connection (both
// sides advertised them), ascending.
func (c *MultiConn) Features() []uint16 {
	ids := make([]uint16, len(c.features))
	for i, f := range c.features {
		ids[i] = f.id
	}
	return ids
}
