package peerbook

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The book file is JSON, one entry per line:
//
//	{"version":1,"secret":"<64 hex>","saved_at":"<RFC 3339>","entries":[
//	{"addr":"<ID>@host:port","source":"pex","source_from":"<ID>",...},
//	{"addr":"<ID>@host:port","source":"inbound","unverified":true,...},
//	...
//	],"bans":[
//	{"id":"<ID>","until":"<RFC 3339>","reason":"..."},
//	{"ip":"192.0.2.1","until":"...","reason":"..."}
//	]}
//
// Keys may come in any order; unknown keys are ignored. A file that is not
// such an object, lacks the version or the secret, has another version, or
// holds more than maxFileEntries entries or 2*MaxBans bans is corrupt as a
// whole. A well-formed entry or ban that is invalid (bad address, duplicate
// ID, expired ban) or does not fit the configured book is dropped alone.

// ErrCorruptFile and ErrFileVersion classify why a book file was unusable;
// a FileError wraps one of them.
var (
	ErrCorruptFile = errors.New("peerbook: corrupt book file")
	ErrFileVersion = errors.New("peerbook: unsupported book file version")
)

// FileError reports a book file that could not be used and where it was
// moved aside.
type FileError struct {
	Path    string
	MovedTo string // "" if it could not be moved (see MoveErr)
	Err     error  // wraps ErrCorruptFile or ErrFileVersion
	MoveErr error
}

// Error describes the file, the problem and where the file went.
func (e *FileError) Error() string {
	s := "peerbook: book file " + e.Path + ": " + e.Err.Error()
	if e.MovedTo != "" {
		s += "; moved to " + e.MovedTo
	}
	if e.MoveErr != nil {
		s += "; could not move it aside: " + e.MoveErr.Error()
	}
	return s
}

// Unwrap returns the reason the file was unusable.
func (e *FileError) Unwrap() error { return e.Err }

type fileEntry struct {
	Addr        string    `json:"addr"`
	Source      string    `json:"source,omitempty"`
	SourceFrom  string    `json:"source_from,omitempty"`
	SourceHost  string    `json:"source_host,omitempty"`
	Protected   bool      `json:"protected,omitempty"`
	Tried       bool      `json:"tried,omitempty"`
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	Meta        Meta      `json:"meta,omitzero"`
	Unverified  *bool     `json:"unverified,omitempty"` // inbound sources only; absent in older files (unverifiedOf)
	Slot        *int      `json:"slot,omitempty"`       // slot in the new table; absent for tried and protected entries and in older files (savedSlot)
}

type fileBan struct {
	ID     string    `json:"id,omitempty"`
	IP     string    `json:"ip,omitempty"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

type decodedFile struct {
	secret  [32]byte
	entries []fileEntry // the first keep entries of the file
	extra   int         // well-formed entries beyond keep
	bans    []fileBan
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptFile, fmt.Sprintf(format, args...))
}

// decodeFile parses a book file, keeping at most keep entries in memory so a
// file of many tiny entries cannot allocate more than the book can hold.
func decodeFile(data []byte, keep int) (*decodedFile, error) {
	if len(data) > MaxFileSize {
		return nil, corrupt("%d bytes exceeds %d", len(data), MaxFileSize)
	}
	d := &decodedFile{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var haveVersion, haveSecret bool
	var nEntries, nBans int
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, corrupt("%v", err)
		}
		key, _ := tok.(string)
		switch key {
		case "version":
			var v int
			if err := dec.Decode(&v); err != nil {
				return nil, corrupt("version: %v", err)
			}
			if v != FileVersion {
				return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrFileVersion, v, FileVersion)
			}
			haveVersion = true
		case "secret":
			var s string
			if err := dec.Decode(&s); err != nil {
				return nil, corrupt("secret: %v", err)
			}
			if len(s) != 2*len(d.secret) {
				return nil, corrupt("secret is %d hex digits, want %d", len(s), 2*len(d.secret))
			}
			if _, err := hex.Decode(d.secret[:], []byte(s)); err != nil {
				return nil, corrupt("secret is not hex")
			}
			haveSecret = true
		case "entries":
			err := decodeArray(dec, "entries", &nEntries, maxFileEntries, func() error {
				var fe fileEntry
				if err := dec.Decode(&fe); err != nil {
					return err
				}
				if d.entries == nil {
					d.entries = make([]fileEntry, 0, min(keep, len(data)/128+1)) // a saved entry takes 150-400 bytes
				}
				if len(d.entries) < keep {
					d.entries = append(d.entries, fe)
				} else {
					d.extra++
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case "bans":
			err := decodeArray(dec, "bans", &nBans, 2*MaxBans, func() error {
				var fb fileBan
				if err := dec.Decode(&fb); err != nil {
					return err
				}
				d.bans = append(d.bans, fb)
				return nil
			})
			if err != nil {
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, corrupt("%q: %v", key, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt("data after the closing brace")
	}
	if !haveVersion {
		return nil, corrupt("no version")
	}
	if !haveSecret {
		return nil, corrupt("no secret")
	}
	return d, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return corrupt("truncated or empty")
		}
		return corrupt("%v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return corrupt("want %q, have %v", want, tok)
	}
	return nil
}

// decodeArray reads a JSON array element by element with each, counting
// into *n and failing beyond limit.
func decodeArray(dec *json.Decoder, name string, n *int, limit int, each func() error) error {
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for dec.More() {
		if *n++; *n > limit {
			return corrupt("more than %d %s", limit, name)
		}
		if err := each(); err != nil {
			return corrupt("%s[%d]: %v", name, *n-1, err)
		}
	}
	if err := expectDelim(dec, ']'); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// encodeFile writes the book file for the given state.
func encodeFile(secret [32]byte, savedAt time.Time, entries []fileEntry, bans []fileBan) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(128 + 320*len(entries) + 128*len(bans))
	fmt.Fprintf(&buf, `{"version":%d,"secret":"%x","saved_at":"%s","entries":[`, FileVersion, secret, savedAt.UTC().Format(time.RFC3339Nano))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	put := func(i int, v any) error {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	}
	for i := range entries {
		if err := put(i, &entries[i]); err != nil {
			return nil, fmt.Errorf("peerbook: encoding entry: %w", err)
		}
	}
	buf.WriteString("\n],\"bans\":[")
	for i := range bans {
		if err := put(i, &bans[i]); err != nil {
			return nil, fmt.Errorf("peerbook: encoding ban: %w", err)
		}
	}
	buf.WriteString("\n]}\n")
	return buf.Bytes(), nil
}
