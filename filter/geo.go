package filter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
)

// DBError reports a country database that cannot be used: missing,
// unreadable, too large, corrupt, or not a country database.
type DBError struct {
	// Path is the database file's path.
	Path string
	// Err says what is wrong.
	Err error
}

// Error returns e.g. `filter: country database "/var/lib/GeoLite2-Country.mmdb": ...`.
func (e *DBError) Error() string {
	return fmt.Sprintf("filter: country database %q: %v", e.Path, e.Err)
}

// Unwrap returns e.Err.
func (e *DBError) Unwrap() error { return e.Err }

// fileStamp identifies a version of the database file cheaply.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(fi fs.FileInfo) fileStamp { return fileStamp{fi.Size(), fi.ModTime()} }

func (a fileStamp) equal(b fileStamp) bool { return a.size == b.size && a.mod.Equal(b.mod) }

// geoDB is one loaded database with its own result cache. It is immutable
// apart from the cache and the reference count; the Filter swaps whole
// geoDBs, so a check in flight keeps using the one it started with.
type geoDB struct {
	reader  *geoip2.Reader
	stamp   fileStamp
	dbType  string
	builtAt time.Time
	cache   *countryCache

	// refs counts the Filter's reference (1 while current) plus checks in
	// flight. It never rises again after reaching 0, when the reader is
	// closed.
	refs atomic.Int64

	lookups      atomic.Uint64 // database lookups (cache misses)
	lookupErrors atomic.Uint64
}

// readDB reads the database file into memory, bounded by MaxDBSize. Reading
// (rather than memory-mapping) means a file rewritten in place cannot change
// the bytes under a reader in use.
func readDB(path string) ([]byte, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, pathErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, pathErr(err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fileStamp{}, errors.New("not a regular file")
	case fi.Size() == 0:
		return nil, fileStamp{}, errors.New("empty file")
	case fi.Size() > MaxDBSize:
		return nil, fileStamp{}, fmt.Errorf("%d bytes is above the limit of %d", fi.Size(), MaxDBSize)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fileStamp{}, fmt.Errorf("read: %w (file changed while reading?)", err)
	}
	return data, stampOf(fi), nil
}

// pathErr drops the path from an *fs.PathError, since DBError names it.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// openDB parses data as a country database. Malformed bytes give an error,
// never a panic.
func openDB(data []byte, stamp fileStamp, cacheSize int) (db *geoDB, err error) {
	// The database is operator input from disk; a parser bug must not take
	// the node down, so a panic here becomes an error.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("malformed database (%v)", r)
		}
	}()
	r, err := geoip2.OpenBytes(data)
	if err != nil {
		return nil, err
	}
	meta := r.Metadata()
	// Probe once: a database of another kind (ASN, ISP …) opens fine but
	// cannot answer Country.
	if _, err := r.Country(netip.IPv4Unspecified()); err != nil {
		var im geoip2.InvalidMethodError
		if errors.As(err, &im) {
			return nil, fmt.Errorf("database type %q is not a country or city database", meta.DatabaseType)
		}
		return nil, fmt.Errorf("lookup failed: %w", err)
	}
	db = &geoDB{
		reader:  r,
		stamp:   stamp,
		dbType:  meta.DatabaseType,
		builtAt: time.Unix(int64(meta.BuildEpoch), 0).UTC(),
		cache:   newCountryCache(cacheSize),
	}
	db.refs.Store(1)
	return db, nil
}

// acquire takes a reference for a check in flight; it fails once the
// database has been retired and released by everyone.
func (d *geoDB) acquire() bool {
	for {
		n := d.refs.Load()
		if n <= 0 {
			return false
		}
		if d.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the reader.
func (d *geoDB) release() {
	if d.refs.Add(-1) == 0 {
		d.reader.Close()
	}
}

// country returns the country index of a (unmapped, zone-free), or -1 when
// the database knows none. The caller holds a reference.
func (d *geoDB) country(a netip.Addr) int {
	if idx, ok := d.cache.get(a); ok {
		return int(idx)
	}
	idx := d.lookup(a)
	d.cache.put(a, int16(idx))
	return idx
}

func (d *geoDB) lookup(a netip.Addr) int {
	d.lookups.Add(1)
	rec, err := d.reader.Country(a)
	if err != nil {
		// Corrupt data under this address (or an IPv6 address in an
		// IPv4-only database): the country is unknown.
		d.lookupErrors.Add(1)
		return -1
	}
	code := rec.Country.ISOCode
	if code == "" {
		// Some networks carry only the country of registration.
		code = rec.RegisteredCountry.ISOCode
	}
	idx, ok := countryIndex(code)
	if !ok {
		return -1
	}
	return idx
}
