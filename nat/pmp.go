package nat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"
)

// pmpGateway is a NAT-PMP gateway (RFC 6886). go-nat-pmp's calls take no
// context: each is bounded by the client's timeout (Config.RequestTimeout).
type pmpGateway struct {
	ip netip.Addr
	c  *natpmp.Client
}

func newPMPGateway(ip netip.Addr, cfg Config) *pmpGateway {
	return &pmpGateway{ip: ip, c: natpmp.NewClientWithTimeout(net.IP(ip.AsSlice()), cfg.RequestTimeout)}
}

func (g *pmpGateway) String() string { return "pmp " + g.ip.String() }

func (g *pmpGateway) addMapping(ctx context.Context, intPort, extPort uint16, _ string, lease time.Duration) (uint16, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	r, err := g.c.AddPortMapping("tcp", int(intPort), int(extPort), int(lease/time.Second))
	if err != nil {
		return 0, 0, fmt.Errorf("NAT-PMP map: %w", err)
	}
	if r.MappedExternalPort == 0 || r.PortMappingLifetimeInSeconds == 0 {
		return 0, 0, errors.New("NAT-PMP map: the gateway granted no mapping")
	}
	return r.MappedExternalPort, time.Duration(r.PortMappingLifetimeInSeconds) * time.Second, nil
}

func (g *pmpGateway) deleteMapping(ctx context.Context, intPort, _ uint16) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// RFC 6886 §3.4: a request with lifetime 0 and external port 0 deletes.
	if _, err := g.c.AddPortMapping("tcp", int(intPort), 0, 0); err != nil {
		return fmt.Errorf("NAT-PMP delete: %w", err)
	}
	return nil
}

func (g *pmpGateway) externalIP(ctx context.Context) (netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, err
	}
	r, err := g.c.GetExternalAddress()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("NAT-PMP external address: %w", err)
	}
	ip := netip.AddrFrom4(r.ExternalIPAddress)
	if ip.IsUnspecified() {
		return netip.Addr{}, errors.New("NAT-PMP external address: the gateway has none (0.0.0.0)")
	}
	return ip, nil
}

// pmpAt is the discoverer of mode pmp:IP: the gateway counts as found
// once it answers an external address request.
func pmpAt(ip netip.Addr) discoverer {
	return func(ctx context.Context, cfg Config) (gateway, error) {
		g := newPMPGateway(ip, cfg)
		if _, err := g.externalIP(ctx); err != nil {
			return nil, err
		}
		return g, nil
	}
}

// pmpDefaultGateway is the discoverer of mode pmp: NAT-PMP at the IPv4
// default gateway of the routing table.
func pmpDefaultGateway(ctx context.Context, cfg Config) (gateway, error) {
	ip, err := defaultGateway("/proc/net/route")
	if err != nil {
		return nil, err
	}
	return pmpAt(ip)(ctx, cfg)
}

// anyDiscoverer tries UPnP, then NAT-PMP, one after the other (never both
// at once: discovery is serialised).
func anyDiscoverer() discoverer {
	return func(ctx context.Context, cfg Config) (gateway, error) {
		gw, uerr := upnpSSDP(ctx, cfg)
		if uerr == nil {
			return gw, nil
		}
		gw, perr := pmpDefaultGateway(ctx, cfg)
		if perr == nil {
			return gw, nil
		}
		return nil, errors.Join(uerr, perr)
	}
}

// defaultGateway reads the IPv4 default gateway from a file in the format
// of Linux's /proc/net/route.
func defaultGateway(path string) (netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pmp: finding the default gateway: %w (use -nat pmp:IP)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRouteFile))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pmp: reading %s: %w", path, err)
	}
	ip, ok := parseRoutes(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("pmp: no IPv4 default gateway in %s (use -nat pmp:IP)", path)
	}
	return ip, nil
}
