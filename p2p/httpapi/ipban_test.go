package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestIPBans: POST /bans takes "ip" or "prefix" as well as "id" (exactly
// one), GET /bans lists IP and prefix bans, and DELETE /bans/{target}
// lifts them by address or CIDR; bad targets are 400s with their codes.
func TestIPBans(t *testing.T) {
	a := startNode(t, 30, pb.NodeRole_NODE_ROLE_FULL)
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	id := strings.Repeat("ef", crypto.IDLen)

	var ban Ban
	api.expect("POST", "/bans", `{"ip":"::ffff:192.0.2.7","duration":"2h","reason":"flood"}`, 201, "", &ban)
	if ban.IP != "192.0.2.7" || ban.Prefix != "" || ban.ID != "" || ban.Reason != "flood" || time.Until(ban.Until) < 119*time.Minute {
		t.Fatalf("ip ban %+v", ban)
	}
	ban = Ban{}
	api.expect("POST", "/bans", `{"prefix":"198.51.100.77/24","duration":"1h"}`, 201, "", &ban)
	if ban.Prefix != "198.51.100.0/24" || ban.IP != "" || ban.Reason != "banned by operator" {
		t.Fatalf("prefix ban %+v", ban)
	}
	ban = Ban{}
	api.expect("POST", "/bans", `{"prefix":"2001:db8::/32","duration":"1h"}`, 201, "", &ban)
	if ban.Prefix != "2001:db8::/32" {
		t.Fatalf("IPv6 prefix ban %+v", ban)
	}
	for _, ip := range []string{"192.0.2.7", "198.51.100.200", "2001:db8:ffff::1"} {
		if !bannedIP(a.Bans(), ip) {
			t.Fatalf("%s not banned in the node: %+v", ip, a.Bans())
		}
	}
	var bans []Ban
	api.expect("GET", "/bans", "", 200, "", &bans)
	got := map[string]bool{}
	for _, b := range bans {
		got[b.IP+b.Prefix] = true
	}
	if len(bans) != 3 || !got["192.0.2.7"] || !got["198.51.100.0/24"] || !got["2001:db8::/32"] {
		t.Fatalf("GET /bans %+v", bans)
	}
	for _, tc := range []struct{ body, code string }{
		{`{"duration":"1h"}`, "bad_target"},
		{`{"id":"` + id + `","ip":"192.0.2.1","duration":"1h"}`, "bad_target"},
		{`{"ip":"192.0.2.1","prefix":"192.0.2.0/24","duration":"1h"}`, "bad_target"},
		{`{"ip":"192.0.2.0/24","duration":"1h"}`, "bad_ip"},
		{`{"ip":"host.example","duration":"1h"}`, "bad_ip"},
		{`{"prefix":"192.0.2.1","duration":"1h"}`, "bad_prefix"},
		{`{"prefix":"0.0.0.0/0","duration":"1h"}`, "bad_prefix"},
		{`{"prefix":"10.0.0.0/7","duration":"1h"}`, "bad_prefix"},
		{`{"prefix":"10.0.0.0/8","duration":"900h"}`, "bad_duration"},
	} {
		api.expect("POST", "/bans", tc.body, 400, tc.code, nil)
	}
	api.expect("DELETE", "/bans/198.51.100.0/24", "", 204, "", nil)
	api.expect("DELETE", "/bans/198.51.100.0/24", "", 404, "not_banned", nil)
	api.expect("DELETE", "/bans/192.0.2.7", "", 204, "", nil)
	api.expect("DELETE", "/bans/2001:db8::/32", "", 204, "", nil)
	api.expect("DELETE", "/bans/192.0.2.0/33", "", 400, "bad_target", nil)
	api.expect("DELETE", "/bans/"+id, "", 404, "not_banned", nil)
	if len(a.Bans()) != 0 {
		t.Fatalf("bans left %+v", a.Bans())
	}
}

func bannedIP(bans []peerbook.Ban, ip string) bool {
	addr := netip.MustParseAddr(ip)
	for _, b := range bans {
		if b.Prefix.Contains(addr) {
			return true
		}
	}
	return false
}
