package peerbook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

const (
	backupSuffix  = ".bak"
	tempInfix     = ".tmp-"
	corruptInfix  = ".corrupt-"
	corruptLayout = "20060102T150405.000000000Z" // UTC, no colons: valid on every file system
)

// Origin says where a loaded book came from.
type Origin string

// Origins of a loaded book.
const (
	OriginFile   Origin = "file"   // the book file
	OriginBackup Origin = "backup" // <file>.bak, because the file was unusable
	OriginEmpty  Origin = "empty"  // no file, or neither file nor backup was usable
)

// LoadReport describes what Open found. Problems are not fatal: the book
// starts with what could be recovered.
type LoadReport struct {
	Path     string
	Origin   Origin
	Entries  int          // entries loaded
	Bans     int          // bans loaded
	Dropped  int          // entries and bans dropped: invalid, duplicate, expired or over the configured bounds
	Problems []*FileError // unusable files, moved aside as <name>.corrupt-<time>
}

// Open loads the book saved at path, or starts an empty one if there is no
// file. A file that is unreadable as a book (corrupt, truncated, empty, of
// another version, over MaxFileSize) is moved aside as
// path.corrupt-<time> (time from Deps.Clock, UTC, without colons) and listed
// in the report, and the backup path.bak, the previous good file, is tried
// the same way; if neither is usable the book starts empty. Open returns an
// error only for an invalid Config or a file it cannot read at all (for
// example, permission denied), because starting empty then would overwrite
// a good file at the next save.
//
// cfg and deps are as for New. The returned Book saves to path with Save, Run and Close.
func Open(path string, cfg Config, deps Deps) (*Book, *LoadReport, error) {
	b, err := newBook(cfg, deps)
	if err != nil {
		return nil, nil, err
	}
	b.path = path
	rep := &LoadReport{Path: path, Origin: OriginEmpty}
	b.removeTemps()
	now := b.deps.Clock.Now()
	for i, p := range []string{path, path + backupSuffix} {
		data, err := readBounded(p)
		if errors.Is(err, fs.ErrNotExist) {
			if i == 0 {
				break // no book yet: the backup is not consulted
			}
			continue
		}
		var d *decodedFile
		if err == nil {
			d, err = decodeFile(data, b.cfg.MaxEntries+MaxProtected)
		} else if !errors.Is(err, ErrCorruptFile) {
			return nil, rep, fmt.Errorf("peerbook: reading book file: %w", err)
		}
		if err == nil {
			b.secret = d.secret
			rep.Entries, rep.Bans, rep.Dropped = b.build(d, now)
			rep.Origin = OriginFile
			if i == 1 {
				rep.Origin = OriginBackup
			}
			break
		}
		fe := &FileError{Path: p, Err: err}
		fe.MovedTo, fe.MoveErr = moveAside(p, now)
		rep.Problems = append(rep.Problems, fe)
		b.deps.Logger.Warn("peerbook: unusable book file", slog.String("path", p), slog.Any("error", fe))
		b.reset()
	}
	if rep.Origin == OriginEmpty {
		if err := b.newSecret(); err != nil {
			return nil, rep, err
		}
	}
	if len(rep.Problems) > 0 {
		b.touch() // write a good file at the next save, so the backup is not the only copy
	}
	b.deps.Logger.Info("peerbook: loaded", slog.String("path", path), slog.String("origin", string(rep.Origin)),
		slog.Int("entries", rep.Entries), slog.Int("bans", rep.Bans), slog.Int("dropped", rep.Dropped))
	return b, rep, nil
}

// readBounded reads a regular file of at most MaxFileSize bytes. Larger or
// irregular files are corrupt.
func readBounded(path string) ([]byte, error) {
	// O_NONBLOCK: opening a named pipe must not wait for a writer; the
	// type check below then refuses it. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, corrupt("not a regular file")
	}
	if st.Size() > MaxFileSize {
		return nil, corrupt("%d bytes exceeds %d", st.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, corrupt("more than %d bytes", MaxFileSize)
	}
	return data, nil
}

// moveAside renames path to path.corrupt-<now>, adding -1, -2 ... if that
// name is taken.
func moveAside(path string, now time.Time) (string, error) {
	base := path + corruptInfix + now.UTC().Format(corruptLayout)
	for i := 0; i < 100; i++ {
		dst := base
		if i > 0 {
			dst += "-" + strconv.Itoa(i)
		}
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.Rename(path, dst); err != nil {
			return "", err
		}
		syncDir(filepath.Dir(path))
		return dst, nil
	}
	return "", fmt.Errorf("peerbook: no free name for %s", base)
}

// removeTemps deletes temp files left by saves that were interrupted.
func (b *Book) removeTemps() {
	dir, base := filepath.Split(b.path)
	if dir == "" {
		dir = "."
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), base+tempInfix) && de.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// build fills the empty book from a decoded file and returns the entries and
// bans loaded and the number dropped.
func (b *Book) build(d *decodedFile, now time.Time) (entries, bans, dropped int) {
	m := &b.mu
	dropped = d.extra
	// Entries saved with a slot of the new table first, so each gets back
	// the slot it had (an entry may sit in another free slot of its bucket
	// than its hashed one, freeSlot, and must not lose it to an entry loaded
	// before it); then the rest (tried entries, files written before slots
	// were saved).
	for _, slotted := range []bool{true, false} {
		for i := range d.entries {
			fe := &d.entries[i]
			if (fe.Slot != nil && !fe.Tried) != slotted {
				continue
			}
			if b.buildEntry(fe, now) {
				entries++
			} else {
				dropped++
			}
		}
	}
	for _, fb := range d.bans {
		until := fb.Until
		if !until.After(now) {
			dropped++
			continue
		}
		if limit := now.Add(MaxBanDuration); until.After(limit) {
			until = limit
		}
		ban := banInfo{until, truncate(fb.Reason, maxReasonLen)}
		switch {
		case fb.ID != "" && fb.IP == "" && len(m.bans) < MaxBans:
			id, err := crypto.ParseID(fb.ID)
			if err != nil {
				dropped++
				continue
			}
			m.bans[id] = ban
		case fb.IP != "" && fb.ID == "" && len(m.ipBans) < MaxBans:
			p, err := ParseBanPrefix(fb.IP)
			if err != nil {
				dropped++
				continue
			}
			m.ipBans[p] = ban
		default:
			dropped++
			continue
		}
		bans++
	}
	b.ipBanLensLocked()
	return entries, bans, dropped
}

func (b *Book) buildEntry(fe *fileEntry, now time.Time) bool {
	m := &b.mu
	addr, err := crypto.ParseAddress(fe.Addr)
	if err != nil || addr.Port == 0 || addr.ID == b.deps.SelfID {
		return false
	}
	if _, dup := m.byID[addr.ID]; dup {
		return false
	}
	if len(fe.SourceHost) > 253 {
		return false
	}
	src := Source{Kind: parseSourceKind(fe.Source), Host: fe.SourceHost}
	if fe.SourceFrom != "" {
		if src.From, err = crypto.ParseID(fe.SourceFrom); err != nil {
			return false
		}
	}
	ap, _ := addr.AddrPort()
	if !fe.Protected && b.networkName(ap.Addr(), src) {
		return false // a peer's name, stored while names were allowed
	}
	if src.Kind == SourceLocal {
		if fe.Protected {
			src = Source{Kind: SourceManual} // as Protect makes it
		} else if len(m.local) >= MaxLocal {
			return false
		}
	}
	e := &entry{
		addr: addr, ip: ap.Addr(), src: src, meta: fe.Meta.bounded(), protected: fe.Protected,
		unverified: unverifiedOf(fe, src),
		group:      b.groupOf(addr.Host),
		srcGroup:   b.srcGroupOf(src, addr.Host),
		firstSeen:  fe.FirstSeen, lastSeen: fe.LastSeen, lastAttempt: fe.LastAttempt,
		lastSuccess: fe.LastSuccess, nextAttempt: fe.NextAttempt,
		failures: min(max(fe.Failures, 0), b.cfg.MaxFailures),
		pos:      -1, allIdx: -1, readyIdx: -1, heapIdx: -1,
	}
	if limit := now.Add(b.cfg.BackoffCap); e.nextAttempt.After(limit) {
		e.nextAttempt = limit
	}
	if e.protected {
		if len(m.protected) >= MaxProtected {
			return false
		}
		m.protected[addr.ID] = e
		m.byID[addr.ID] = e
		b.noteKnown(e.ip, 1)
		return true
	}
	if e.failures >= b.cfg.MaxFailures || len(m.all) >= b.cfg.MaxEntries {
		return false
	}
	if fe.Tried {
		if pos := b.triedPos(e); m.slots[tableTried][pos] == nil {
			m.byID[addr.ID] = e
			b.link(e, tableTried, pos, now)
			if e.src.Kind == SourceLocal {
				m.local[addr.ID] = e
			}
			return true
		}
	}
	pos := b.freeSlot(b.savedSlot(fe, b.newPos(e)))
	if m.slots[tableNew][pos] != nil {
		return false
	}
	m.byID[addr.ID] = e
	b.link(e, tableNew, pos, now)
	if e.src.Kind == SourceLocal {
		m.local[addr.ID] = e
	}
	return true
}

// savedSlot returns the new-table slot fe was saved in if it lies in the
// bucket of its hashed slot pos, else pos; freeSlot then moves on from a
// taken one. A slot outside the bucket (a hand-edited file, a changed
// bucket size) is ignored: the bucket, chosen by the address's group, is
// what bounds a group's share.
func (b *Book) savedSlot(fe *fileEntry, pos int) int {
	size := b.cfg.BucketSize
	if fe.Slot == nil || *fe.Slot < 0 || *fe.Slot/size != pos/size {
		return pos
	}
	return *fe.Slot
}

// unverifiedOf returns the unverified flag of a loaded entry. Only an
// inbound source can be unverified. A file written before the flag existed
// lacks it: such an inbound entry counts as unverified unless it was in
// the tried table (a dial to it succeeded), the safe reading, since an
// unverified address is only kept out of PEX answers until a dial
// reaches it.
func unverifiedOf(fe *fileEntry, src Source) bool {
	if src.Kind != SourceInbound {
		return false
	}
	if fe.Unverified != nil {
		return *fe.Unverified
	}
	return !fe.Tried
}
