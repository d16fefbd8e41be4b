package peerbook

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Save writes the book to its file atomically: a temp file in the same
// directory is written and fsynced, the current file becomes path.bak (a
// hard link, or a copy where links are not supported), the temp file is
// renamed over path, and the directory is fsynced. A crash at any point
// leaves a complete file at path (once one was saved) and the previous one
// at path.bak. Save returns ErrNoPath for a book made by New and ErrClosed
// after Close. It holds the book's lock only to copy the entries.
func (b *Book) Save() error {
	if b.path == "" {
		return ErrNoPath
	}
	b.save.Lock()
	defer b.save.Unlock()
	if b.isClosed() {
		return ErrClosed
	}
	return b.saveLocked()
}

func (b *Book) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.closed
}

// saveLocked saves; the caller holds b.save.
func (b *Book) saveLocked() error {
	now := b.deps.Clock.Now()
	data, gen, err := b.marshal(now)
	if err == nil {
		err = writeAtomic(b.path, data)
	}
	b.saveSt.note(err, now)
	if err != nil {
		return err
	}
	b.save.gen = gen
	return nil
}

// marshal encodes the book as of now and returns the generation it holds.
// It holds the book's lock only to copy the entries and bans.
func (b *Book) marshal(now time.Time) ([]byte, uint64, error) {
	b.mu.Lock()
	m := &b.mu
	pruneBans(m.bans, now)
	pruneBans(m.ipBans, now)
	b.ipBanLensLocked()
	gen := m.gen
	snap := make([]entry, 0, len(m.byID))
	for _, e := range m.byID {
		snap = append(snap, *e)
	}
	bans := make([]fileBan, 0, len(m.bans)+len(m.ipBans))
	for id, v := range m.bans {
		bans = append(bans, fileBan{ID: id.String(), Until: v.until, Reason: v.reason})
	}
	for p, v := range m.ipBans {
		bans = append(bans, fileBan{IP: banPrefixString(p), Until: v.until, Reason: v.reason})
	}
	b.mu.Unlock()

	entries := make([]fileEntry, len(snap))
	for i := range snap {
		e := &snap[i]
		fe := fileEntry{
			Addr: e.addr.String(), Source: e.src.Kind.String(), SourceHost: e.src.Host,
			Protected: e.protected, Tried: e.table == tableTried,
			FirstSeen: e.firstSeen, LastSeen: e.lastSeen, LastAttempt: e.lastAttempt,
			LastSuccess: e.lastSuccess, NextAttempt: e.nextAttempt, Failures: e.failures,
			Meta: e.meta,
		}
		if !e.src.From.IsZero() {
			fe.SourceFrom = e.src.From.String()
		}
		if e.src.Kind == SourceInbound {
			fe.Unverified = &e.unverified
		}
		if !e.protected && e.table == tableNew {
			fe.Slot = &e.pos
		}
		entries[i] = fe
	}
	data, err := encodeFile(b.secret, now, entries, bans)
	return data, gen, err
}

// writeAtomic replaces path with data as Save describes.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("peerbook: saving: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("peerbook: saving: %w", err)
	}
	if err = rotateBackup(path); err != nil {
		return fmt.Errorf("peerbook: saving: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("peerbook: saving: %w", err)
	}
	syncDir(dir)
	return nil
}

// rotateBackup makes path.bak the current path, if there is one, without
// ever leaving path missing. Without a current file (the first save, or the
// file was moved aside as corrupt) the backup stays as it is.
func rotateBackup(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	bak := path + backupSuffix
	if err := os.Remove(bak); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	err := os.Link(path, bak)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// No hard links here: copy through a temp file.
	data, err := readBounded(path)
	if err != nil {
		return nil // nothing good to keep
	}
	dir, base := filepath.Split(bak)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, bak)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Run saves the book every Config.SaveInterval (by Deps.Clock) if it changed, until ctx ends
// or the book is closed. When ctx ends it saves once more if the book
// changed and returns that save's error (nil if none); when the book is
// closed it returns nil (Close saves). Save failures on the interval are
// logged and retried at the next tick. Run returns ErrNoPath for a book made
// by New.
func (b *Book) Run(ctx context.Context) error {
	if b.path == "" {
		return ErrNoPath
	}
	t := b.deps.Clock.NewTicker(b.cfg.SaveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return b.saveIfChanged()
		case <-b.done:
			return nil
		case <-t.C():
			if err := b.saveIfChanged(); err != nil {
				b.deps.Logger.Warn("peerbook: save failed", slog.String("path", b.path), slog.Any("error", err))
			}
			if b.afterSave != nil {
				b.afterSave()
			}
		}
	}
}

func (b *Book) saveIfChanged() error {
	b.save.Lock()
	defer b.save.Unlock()
	b.mu.Lock()
	closed, gen := b.mu.closed, b.mu.gen
	b.mu.Unlock()
	if closed || gen == b.save.gen {
		return nil
	}
	return b.saveLocked()
}

// Close ends Run and, for a book with a file, saves it a last time if it
// changed since it was loaded or saved, and returns that save's error. Later
// Saves return ErrClosed; the book still answers queries. Close is
// idempotent: later calls return nil.
func (b *Book) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		b.save.Lock()
		defer b.save.Unlock()
		b.mu.Lock()
		changed := b.mu.gen != b.save.gen
		b.mu.Unlock()
		if b.path != "" && changed {
			err = b.saveLocked()
		}
		b.mu.Lock()
		b.mu.closed = true
		b.mu.Unlock()
	})
	return err
}
