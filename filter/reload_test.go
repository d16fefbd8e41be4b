package filter

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"

	"github.com/peerwire/peerwire/internal/clock"
)

// Two versions of a database that disagree about 127.0.1.0/24.
var (
	netsV1 = []mmdbtest.Net{{CIDR: "127.0.1.0/24", Country: "DE"}, {CIDR: "127.0.2.0/24", Country: "US"}}
	netsV2 = []mmdbtest.Net{{CIDR: "127.0.1.0/24", Country: "US"}, {CIDR: "127.0.2.0/24", Country: "DE"}}
)

func TestReloadExplicit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	mod := time.Unix(1700000000, 0)
	writeFileAt(t, path, mmdbtest.Build(t, "GeoLite2-Country", netsV1), mod)
	var logs bytes.Buffer
	f := newTestFilter(t, Config{CountryDB: path, DenyCountries: []string{"DE"}, DBCheckInterval: -1},
		Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a := addr("127.0.1.1")
	if d := f.CheckRules(a); d != (Decision{ReasonCountryDenied, "DE"}) {
		t.Fatalf("v1: %v", d)
	}
	v1 := f.geo.Load()

	writeFileAt(t, path, mmdbtest.Build(t, "DBIP-Country-Lite", netsV2), mod.Add(time.Hour))
	must(t, f.Reload())
	if d := f.CheckRules(a); d != (Decision{ReasonAllowed, "US"}) {
		t.Fatalf("v2: %v (a cached v1 result?)", d)
	}
	if n := v1.refs.Load(); n != 0 {
		t.Errorf("retired database still has %d references", n)
	}
	if s := f.Stats(); s.Reloads != 1 || s.DBType != "DBIP-Country-Lite" || s.DBBuilt != time.Unix(1700000000, 0).UTC() {
		t.Errorf("stats %+v", s)
	}

	// A corrupt file leaves the loaded database in place.
	must(t, os.WriteFile(path, []byte("not a database at all"), 0o644))
	err := f.Reload()
	var de *DBError
	if !errors.As(err, &de) || de.Path != path {
		t.Fatalf("got %v, want *DBError naming %s", err, path)
	}
	if d := f.CheckRules(a); d != (Decision{ReasonAllowed, "US"}) {
		t.Errorf("after failed reload: %v", d)
	}
	must(t, os.Remove(path))
	wantErr(t, f.Reload(), `filter: country database "`+path+`": open: no such file or directory`)
	if s := f.Stats(); s.ReloadErrors != 2 {
		t.Errorf("ReloadErrors %d, want 2", s.ReloadErrors)
	}
	for _, want := range []string{
		`level=INFO msg="filter: country database loaded" path=` + path + ` type=DBIP-Country-Lite`,
		`level=WARN msg="filter: country database not reloaded; keeping the loaded one"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	if err := newTestFilter(t, Config{}).Reload(); err != ErrNoDatabase {
		t.Errorf("no database: %v", err)
	}
}

// TestReloadWatcher drives the file watcher with an injected ticker; each
// tick is followed by a signal once the poll is done, so nothing sleeps.
func TestReloadWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	mod := time.Unix(1700000000, 0)
	writeFileAt(t, path, mmdbtest.Build(t, "GeoLite2-Country", netsV1), mod)

	clk := clock.NewFake()
	polled := make(chan struct{})
	f, err := newFilter(Config{CountryDB: path, DenyCountries: []string{"DE"}, DBCheckInterval: 5 * time.Minute}, Deps{Clock: clk}, hooks{
		afterPoll: func() { polled <- struct{}{} },
	})
	must(t, err)
	defer f.Close()
	// The ticker runs every DBCheckInterval: nothing polls just before.
	clk.Advance(5*time.Minute - time.Nanosecond)
	select {
	case <-polled:
		t.Errorf("ticker interval below 5m")
	default:
	}
	clk.Advance(time.Nanosecond)
	<-polled
	tick := func() {
		clk.Advance(5 * time.Minute)
		<-polled
	}
	a := addr("127.0.1.1")
	want := func(step string, d Decision, reloads, errs uint64) {
		t.Helper()
		if got := f.CheckRules(a); got != d {
			t.Errorf("%s: %v, want %v", step, got, d)
		}
		if s := f.Stats(); s.Reloads != reloads || s.ReloadErrors != errs {
			t.Errorf("%s: reloads %d errors %d, want %d %d", step, s.Reloads, s.ReloadErrors, reloads, errs)
		}
	}
	denied, allowed := Decision{ReasonCountryDenied, "DE"}, Decision{ReasonAllowed, "US"}

	tick()
	want("unchanged file", denied, 0, 0)

	writeFileAt(t, path, mmdbtest.Build(t, "GeoLite2-Country", netsV2), mod.Add(time.Minute))
	tick()
	want("new version", allowed, 1, 0)
	tick()
	want("no change since", allowed, 1, 0)

	writeFileAt(t, path, []byte("garbage"), mod.Add(2*time.Minute))
	tick()
	want("corrupt version", allowed, 1, 1)
	tick()
	want("corrupt version not retried", allowed, 1, 1)

	must(t, os.Remove(path))
	tick()
	tick()
	want("file removed", allowed, 1, 1)

	writeFileAt(t, path, mmdbtest.Build(t, "GeoLite2-Country", netsV1), mod.Add(3*time.Minute))
	tick()
	want("file back", denied, 2, 1)

	// Same size, new modification time: a reload.
	writeFileAt(t, path, mmdbtest.Build(t, "GeoLite2-Country", netsV1), mod.Add(4*time.Minute))
	tick()
	want("touched", denied, 3, 1)

	f.Close()
	if clk.Pending() != 0 {
		t.Error("ticker not stopped by Close")
	}
}

// TestReloadInFlight reloads repeatedly while checks run, under the race
// detector: every check must see one whole database or the other, and a
// retired database is closed only when its last check is done.
func TestReloadInFlight(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "country.mmdb")
	v1 := mmdbtest.Build(t, "GeoLite2-Country", netsV1)
	v2 := mmdbtest.Build(t, "GeoLite2-Country", netsV2)
	mod := time.Unix(1700000000, 0)
	writeFileAt(t, path, v1, mod)
	f := newTestFilter(t, Config{CountryDB: path, DenyCountries: []string{"DE"}, DBCheckInterval: -1, CountryCacheSize: 16})

	// Hold a reference as a check in flight would.
	held := f.geo.Load()
	if !held.acquire() {
		t.Fatal("acquire")
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				a := netip.AddrFrom4([4]byte{127, 0, 1 + byte(i%2), byte(w*50 + i%50)})
				d := f.Check(a, PEX)
				ok := (d == Decision{ReasonCountryDenied, "DE"} || d == Decision{ReasonAllowed, "US"})
				if !ok {
					t.Errorf("%v: %v", a, d)
					return
				}
			}
		})
	}
	for i := range 40 {
		data := v1
		if i%2 == 0 {
			data = v2
		}
		writeFileAt(t, path, data, mod.Add(time.Duration(i+1)*time.Second))
		must(t, f.Reload())
	}
	stop.Store(true)
	wg.Wait()

	// The held database was retired long ago but is still open for us.
	if n := held.refs.Load(); n != 1 {
		t.Fatalf("held database refs %d, want 1", n)
	}
	if idx := held.country(addr("127.0.1.77")); f.names[idx] != "DE" {
		t.Errorf("held database answers %v", idx)
	}
	held.release()
	if n := held.refs.Load(); n != 0 {
		t.Errorf("refs after release %d", n)
	}
	if held.acquire() {
		t.Error("a closed database must not be acquired again")
	}
}

func TestClose(t *testing.T) {
	f, err := New(Config{CountryDB: testDB(t), DenyCountries: []string{"DE"}, DBCheckInterval: time.Second}, Deps{})
	must(t, err)
	db := f.geo.Load()
	must(t, f.Close())
	must(t, f.Close()) // idempotent
	for _, dir := range []Direction{Inbound, Outbound, PEX} {
		if d := f.Check(addr("127.0.2.1"), dir); d.Reason != ReasonClosed {
			t.Errorf("%v after Close: %v", dir, d)
		}
	}
	if d := f.CheckRules(addr("127.0.2.1")); d.Reason != ReasonClosed {
		t.Errorf("CheckRules after Close: %v", d)
	}
	if err := f.Reload(); err != ErrClosed {
		t.Errorf("Reload after Close: %v", err)
	}
	if n := db.refs.Load(); n != 0 {
		t.Errorf("database refs after Close: %d", n)
	}
	if got := f.Country(addr("127.0.1.1")); got != "" {
		t.Errorf("Country after Close: %q", got)
	}
	// Counting still works, so releases after Close are harmless.
	rel, d := f.Acquire(addr("203.0.113.1"))
	if !d.Allowed() {
		t.Errorf("Acquire after Close: %v", d)
	}
	rel()
}

// FuzzDatabase opens arbitrary bytes as a country database: an error or a
// usable database, never a panic, and lookups on an accepted one never
// panic either.
func FuzzDatabase(f *testing.F) {
	valid := mmdbtest.Build(f, "GeoLite2-Country", testNets)
	f.Add(valid)
	f.Add(valid[:len(valid)-10])
	f.Add(valid[len(valid)/2:])
	f.Add(mmdbtest.Build(f, "GeoLite2-ASN", testNets))
	f.Add([]byte("\xab\xcd\xefMaxMind.com"))
	f.Add([]byte{})
	probes := []netip.Addr{
		addr("127.0.1.1"), addr("127.0.0.1"), addr("2001:db8:1::1"), addr("::"),
		addr("255.255.255.255"), addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := openDB(data, fileStamp{}, 16)
		if err != nil {
			return
		}
		for _, a := range probes {
			if idx := db.country(a); idx < -1 || idx >= numCountries {
				t.Fatalf("%v: index %d", a, idx)
			}
		}
		db.release()
	})
}
