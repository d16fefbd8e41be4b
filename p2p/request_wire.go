package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// rrMsg is a decoded request/response message (docs/PROTOCOL.md §9.4).
type rrMsg struct {
	kind byte
	id   uint64
	// timeout is what a request states the caller waits (0: not stated).
	timeout time.Duration
	// code and text are an error response's.
	code RequestCode
	text string
	// body is a request's or a response's bytes.
	body []byte
}

// isRRKind reports whether a kind byte is one of request/response's.
func isRRKind(k byte) bool { return k >= kindRequest && k <= kindCancel }

// parseRR decodes one request/response message of an application topic.
// It checks the layout only (kind, a nonzero ID, exact lengths, a timeout
// within MaxRequestTimeout, an error text of valid UTF-8 within
// MaxRequestErrorText); sizes against the topic's limits are the caller's.
// body aliases data. It never panics on any input.
func parseRR(data []byte) (rrMsg, error) {
	var w rrMsg
	if len(data) < 9 {
		return w, errors.New("request/response message shorter than its header")
	}
	w.kind = data[0]
	if !isRRKind(w.kind) {
		return w, fmt.Errorf("unknown message kind 0x%02x", w.kind)
	}
	w.id = binary.BigEndian.Uint64(data[1:9])
	if w.id == 0 {
		return w, errors.New("request ID 0")
	}
	rest := data[9:]
	switch w.kind {
	case kindRequest:
		if len(rest) < 4 {
			return w, errors.New("request shorter than its header")
		}
		ms := binary.BigEndian.Uint32(rest)
		w.timeout = time.Duration(ms) * time.Millisecond
		if w.timeout > MaxRequestTimeout {
			return w, fmt.Errorf("request timeout %d ms over the maximum", ms)
		}
		w.body = rest[4:]
	case kindResponse:
		w.body = rest
	case kindError:
		if len(rest) < 1 {
			return w, errors.New("error response without a code")
		}
		w.code = RequestCode(rest[0])
		if w.code == 0 {
			return w, errors.New("error response with code 0")
		}
		text := rest[1:]
		if len(text) > MaxRequestErrorText {
			return w, errors.New("error text over the maximum")
		}
		if !utf8.Valid(text) {
			return w, errors.New("error text is not UTF-8")
		}
		w.text = string(text)
	case kindCancel:
		if len(rest) != 0 {
			return w, errors.New("cancel with trailing bytes")
		}
	}
	return w, nil
}

// appendRRHeader appends kind and id.
func appendRRHeader(b []byte, kind byte, id uint64) []byte {
	b = append(b, kind)
	return binary.BigEndian.AppendUint64(b, id)
}

// encodeRequest builds a request message: the timeout is stated in whole
// milliseconds, rounded up so a positive one never reads as "not stated".
func encodeRequest(id uint64, timeout time.Duration, body []byte) []byte {
	ms := uint32(0)
	if timeout > 0 {
		timeout = min(timeout, MaxRequestTimeout)
		ms = uint32((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	b := make([]byte, 0, rrHeader+len(body))
	b = appendRRHeader(b, kindRequest, id)
	b = binary.BigEndian.AppendUint32(b, ms)
	return append(b, body...)
}

// encodeResponse builds a response message.
func encodeResponse(id uint64, body []byte) []byte {
	b := make([]byte, 0, 9+len(body))
	b = appendRRHeader(b, kindResponse, id)
	return append(b, body...)
}

// encodeError builds an error response; text is cut to MaxRequestErrorText
// bytes at a rune boundary and made valid UTF-8.
func encodeError(id uint64, code RequestCode, text string) []byte {
	text = cutText(text, MaxRequestErrorText)
	b := make([]byte, 0, 10+len(text))
	b = appendRRHeader(b, kindError, id)
	b = append(b, byte(code))
	return append(b, text...)
}

// encodeCancel builds a cancel message.
func encodeCancel(id uint64) []byte {
	return appendRRHeader(make([]byte, 0, 9), kindCancel, id)
}

// cutText returns s as valid UTF-8 of at most n bytes, cut at a rune
// boundary.
func cutText(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
