package nat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"
	"github.com/huin/goupnp/httpu"
	"github.com/huin/goupnp/ssdp"
)

// igdClient is what the three WAN connection services of an IGD have in
// common (WANIPConnection:2, WANIPConnection:1, WANPPPConnection:1).
type igdClient interface {
	AddPortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string, intPort uint16,
		intClient string, enabled bool, desc string, lease uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string) error
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
}

// upnpGateway is an IGD's WAN connection service.
type upnpGateway struct {
	c       igdClient
	service string   // the service type, for logs
	loc     *url.URL // the root device description's URL
	local   netip.Addr
}

func (g *upnpGateway) String() string { return "upnp " + g.loc.String() + " " + g.service }

func (g *upnpGateway) addMapping(ctx context.Context, intPort, extPort uint16, desc string, lease time.Duration) (uint16, time.Duration, error) {
	secs := uint32(lease / time.Second)
	err := g.c.AddPortMappingCtx(ctx, "", extPort, "TCP", intPort, g.local.String(), true, desc, secs)
	if err != nil {
		return 0, 0, fmt.Errorf("AddPortMapping: %w", err)
	}
	return extPort, lease, nil
}

func (g *upnpGateway) deleteMapping(ctx context.Context, _, extPort uint16) error {
	if err := g.c.DeletePortMappingCtx(ctx, "", extPort, "TCP"); err != nil {
		return fmt.Errorf("DeletePortMapping: %w", err)
	}
	return nil
}

func (g *upnpGateway) externalIP(ctx context.Context) (netip.Addr, error) {
	s, err := g.c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("GetExternalIPAddress: %w", err)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("GetExternalIPAddress: gateway answered %q, not an address", s)
	}
	return ip.Unmap(), nil
}

// fromRoot picks the best WAN connection service of an IGD's root device.
func fromRoot(root *goupnp.RootDevice, loc *url.URL) (gateway, error) {
	host, err := hostAddr(loc)
	if err != nil {
		return nil, err
	}
	local, err := localIPToward(host)
	if err != nil {
		return nil, fmt.Errorf("upnp: no route to the gateway %s: %w", host, err)
	}
	mk := func(c igdClient, service string) gateway {
		return &upnpGateway{c: c, service: service, loc: loc, local: local}
	}
	if cs, _ := internetgateway2.NewWANIPConnection2ClientsFromRootDevice(root, loc); len(cs) > 0 {
		return mk(cs[0], "WANIPConnection:2"), nil
	}
	if cs, _ := internetgateway2.NewWANIPConnection1ClientsFromRootDevice(root, loc); len(cs) > 0 {
		return mk(cs[0], "WANIPConnection:1"), nil
	}
	if cs, _ := internetgateway2.NewWANPPPConnection1ClientsFromRootDevice(root, loc); len(cs) > 0 {
		return mk(cs[0], "WANPPPConnection:1"), nil
	}
	return nil, fmt.Errorf("upnp: %s has no WAN IP or PPP connection service", loc)
}

// hostAddr resolves the host of a gateway URL to an IP (gateways give
// literal addresses; a name is looked up).
func hostAddr(u *url.URL) (netip.Addr, error) {
	h := u.Hostname()
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap(), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", h)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("upnp: gateway host %q: %v", h, err)
	}
	return ips[0].Unmap(), nil
}

// upnpAt is the discoverer of mode upnp:URL: the root device description
// is fetched from the operator's URL, no SSDP.
func upnpAt(loc *url.URL) discoverer {
	return func(ctx context.Context, _ Config) (gateway, error) {
		root, err := goupnp.DeviceByURLCtx(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("upnp: %w", err)
		}
		return fromRoot(root, loc)
	}
}

// upnpSSDP is the discoverer of mode upnp: an SSDP search for each WAN
// connection service in turn, the first answering IGD wins.
func upnpSSDP(ctx context.Context, cfg Config) (gateway, error) {
	targets := []string{internetgateway2.URN_WANIPConnection_2, internetgateway2.URN_WANIPConnection_1,
		internetgateway2.URN_WANPPPConnection_1}
	search := func(ctx context.Context, target string) ([]goupnp.MaybeRootDevice, error) {
		sctx, cancel := context.WithTimeout(ctx, cfg.DiscoverTimeout)
		defer cancel()
		return goupnp.DiscoverDevicesCtx(sctx, target)
	}
	if cfg.ssdpAddr.IsValid() {
		search = func(ctx context.Context, target string) ([]goupnp.MaybeRootDevice, error) {
			return searchAt(ctx, cfg.ssdpAddr, target, cfg.DiscoverTimeout)
		}
	}
	var errs []error
	for _, target := range targets {
		devs, err := search(ctx, target)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range devs {
			if d.Err != nil || d.Root == nil {
				continue
			}
			gw, err := fromRoot(d.Root, d.Location)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			return gw, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if len(errs) == 0 {
		return nil, errors.New("upnp: no gateway answered the SSDP search")
	}
	return nil, fmt.Errorf("upnp: no usable gateway: %w", errors.Join(errs...))
}

// searchAt is goupnp.DiscoverDevicesCtx with its search sent to the one
// address to (Config.ssdpAddr) instead of the multicast group: the same
// SSDP request and response filtering, answers awaited for wait, then the
// root descriptions fetched under ctx.
func searchAt(ctx context.Context, to netip.AddrPort, target string, wait time.Duration) ([]goupnp.MaybeRootDevice, error) {
	c, err := httpu.NewHTTPUClientAddr(to.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("upnp: %w", err)
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, wait)
	resps, err := ssdp.RawSearch(sctx, unicastHTTPU{c: c, to: to.String()}, target, 1)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("upnp: %w", err)
	}
	out := make([]goupnp.MaybeRootDevice, len(resps))
	for i, r := range resps {
		d := &out[i]
		d.USN = r.Header.Get("USN")
		if d.Location, d.Err = r.Location(); d.Err != nil {
			continue
		}
		d.Root, d.Err = goupnp.DeviceByURLCtx(ctx, d.Location)
	}
	return out, nil
}

// unicastHTTPU sends an HTTPU request to one address, whatever its Host.
type unicastHTTPU struct {
	c  *httpu.HTTPUClient
	to string
}

func (u unicastHTTPU) DoWithContext(req *http.Request, numSends int) ([]*http.Response, error) {
	req.Host = u.to
	return u.c.DoWithContext(req, numSends)
}
