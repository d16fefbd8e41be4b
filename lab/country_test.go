package lab

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"

	"github.com/peerwire/peerwire/internal/testutil"
)

// metric returns the value of the first Prometheus sample whose line
// matches re (a regexp over "name{labels}"), or 0.
func metric(b []byte, re string) float64 {
	m := regexp.MustCompile(`(?m)^` + re + `\s+(\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestCountryRules maps each host's /24 to a country in a generated
// database and runs a `peerwire node` with -deny-countries CN.
//
// Bounds: peers from DE and US connect within 15 s (they dial at start;
// a first dial that races the victim's start is retried within the 4 s
// backoff cap). The CN peer is refused before the handshake on every
// attempt over a 10 s window (it retries at least twice in that time, so
// the refusal counter must move), and the victim's own dial to it is
// refused by the same rule.
func TestCountryRules(t *testing.T) {
	l := New(t, 4)
	ctx := Context(t)
	cc := []string{"DE", "DE", "US", "CN"}
	nets := map[string]string{}
	for i, c := range cc {
		a := HostAddr(i).As4()
		nets[fmt.Sprintf("%d.%d.%d.0/24", a[0], a[1], a[2])] = c
	}
	db := mmdbtest.Write(t, mmdbtest.Countries(nets))
	v := newPWNode(t, l.Hosts[0], "v", "-geoip-db", db, "-deny-countries", "CN")
	v.start("run")
	lab := []string{"-network", "peerwire-lab", "-chain", "lab-1", "-bootstrap", v.addr, "-probe-every", "0"}
	var peers []*labNode
	for i := 1; i < 4; i++ {
		peers = append(peers, startLabNode(t, l.Hosts[i], "c"+strconv.Itoa(i), lab...))
	}
	de, us, cn := Identity("c1").ID().String(), Identity("c2").ID().String(), Identity("c3").ID().String()
	took := testutil.Eventually(t, 15*time.Second, "DE and US peers connected", func() bool {
		ps := v.peerSet()
		return ps[de] && ps[us]
	})
	m0, _ := v.Host.Get(ctx, pwAdmin+"/metrics")
	time.Sleep(10 * time.Second)
	if v.peerSet()[cn] {
		t.Fatal("the CN peer was admitted")
	}
	m1, err := v.Host.Get(ctx, pwAdmin+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	refusals := func(b []byte) float64 {
		return metric(b, `peerwire_admission_refusals_total\{reason="country[^"]*"\}`)
	}
	r0, r1 := refusals(m0), refusals(m1)
	if r1 <= r0 {
		t.Errorf("country refusals did not grow over 10 s: %v → %v\n%s", r0, r1, grepLines(m1, "refus"))
	}
	// The victim's own dial to the CN peer.
	req, _ := newPost(ctx, pwAdmin+"/peers", fmt.Sprintf(`{"addr":%q}`, NodeAddr("c3", listenAddr(l.Hosts[3]))))
	resp, err := v.Host.HTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("the victim dialed the CN peer: %s", body[:n])
	}
	cnStats := peers[2].mustStats(t)
	figure(t, "countries DE (victim, c1), US (c2), CN (c3) from a generated .mmdb, victim -deny-countries CN: DE and US connected in %v; CN refused before the handshake %v times in 10 s (admission refusals by country %v → %v; CN node: %d peers); the victim's own dial to CN answered %d: %s",
		took.Round(100*time.Millisecond), r1-r0, r0, r1, len(cnStats.Peers), resp.StatusCode, strings.Join(strings.Fields(string(body[:n])), " "))
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte(s)) && !bytes.HasPrefix(l, []byte("#")) {
			out = append(out, string(l))
		}
	}
	return fmt.Sprint(out)
}
