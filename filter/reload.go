package filter

import (
	"os"
	"time"
)

// Reload reads the country database file again and, if it is usable,
// replaces the loaded one. Checks in flight finish with the database they
// started with, which is closed after the last of them. If the new file is
// unusable, the loaded database stays in place and a *DBError naming the
// path is returned. Safe for concurrent use; returns ErrNoDatabase without
// a configured database and ErrClosed after Close.
func (f *Filter) Reload() error {
	if f.s.dbPath == "" {
		return ErrNoDatabase
	}
	f.reload.Lock()
	defer f.reload.Unlock()
	if f.closed.Load() {
		return ErrClosed
	}
	return f.reloadLocked()
}

// reloadLocked loads the file and swaps it in. f.reload is held.
func (f *Filter) reloadLocked() error {
	data, stamp, err := readDB(f.s.dbPath)
	if err == nil {
		f.reload.seen = stamp
		var db *geoDB
		if db, err = openDB(data, stamp, f.s.cacheSize); err == nil {
			if old := f.geo.Swap(db); old != nil {
				old.release()
			}
			f.reloads.Add(1)
			f.s.log.Info("filter: country database loaded", "path", f.s.dbPath, "type", db.dbType, "built", db.builtAt)
			return nil
		}
	}
	f.reloadErrors.Add(1)
	err = &DBError{Path: f.s.dbPath, Err: err}
	f.s.log.Warn("filter: country database not reloaded; keeping the loaded one", "err", err)
	return err
}

// watch polls the database file on every tick until Close.
func (f *Filter) watch(tick <-chan time.Time, stop func(), afterPoll func()) {
	defer f.wg.Done()
	defer stop()
	for {
		select {
		case <-f.done:
			return
		case <-tick:
			f.poll()
			if afterPoll != nil {
				afterPoll()
			}
		}
	}
}

// poll reloads the database when its file's size or modification time
// differs from the last version tried. A file that failed to load is not
// tried again until it changes; a file that disappears is reported once and
// the loaded database kept.
func (f *Filter) poll() {
	f.reload.Lock()
	defer f.reload.Unlock()
	if f.closed.Load() {
		return
	}
	fi, err := os.Stat(f.s.dbPath)
	if err != nil {
		if !f.reload.statFailed {
			f.reload.statFailed = true
			f.s.log.Warn("filter: cannot stat country database; keeping the loaded one", "path", f.s.dbPath, "err", pathErr(err))
		}
		return
	}
	f.reload.statFailed = false
	stamp := stampOf(fi)
	if stamp.equal(f.reload.seen) {
		return
	}
	f.reload.seen = stamp
	_ = f.reloadLocked() // logged and counted there
}
