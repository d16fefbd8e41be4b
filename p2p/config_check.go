package p2p

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/proto/pb"
)

// Config.settings: the checks and defaults that turn a Config into the
// node's resolved settings.

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	listens    []string // nil when not listening
	bootstrap  []crypto.Address
	must       []crypto.Address
	advertise  []string
	topicByID  map[uint8]*TopicConfig
	appTopics  []TopicConfig
	keyPath    string
	bookPath   string
	connTopics []mux.TopicConfig
	connLog    *slog.Logger // Logger for the connections: component=conn
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("p2p: Config.%s: %s", field, fmt.Sprintf(format, args...))
}

func (c *Config) settings() (*settings, error) {
	topics, err := c.withDHTTopic()
	if err != nil {
		return nil, err
	}
	cc := *c
	cc.Topics = topics // the DHT's topic, when on, is declared like the application's
	c = &cc
	s := &settings{Config: *c, topicByID: map[uint8]*TopicConfig{}}
	if c.NetworkID == "" {
		return nil, fieldErr("NetworkID", "required")
	}
	if c.Identity == nil && c.DataDir == "" {
		return nil, fieldErr("Identity", "required when DataDir is empty")
	}
	s.spreadIntents()
	if err := c.MDNS.check(); err != nil {
		return nil, err
	}
	if c.DataDir != "" {
		s.keyPath = filepath.Join(c.DataDir, keyFileName)
		s.bookPath = filepath.Join(c.DataDir, bookFileName)
	}
	listens, err := c.listenAddrs()
	if err != nil {
		return nil, err
	}
	s.listens = listens
	for i, a := range c.AdvertiseAddrs {
		ad, err := crypto.ParseDialAddress(a)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("AdvertiseAddrs[%d]", i), "%v", err)
		}
		if ap, ok := ad.AddrPort(); ok && ap.Addr().IsUnspecified() {
			return nil, fieldErr(fmt.Sprintf("AdvertiseAddrs[%d]", i), "%q: an unspecified address cannot be dialed; advertise an address of this host", a)
		}
		ad.ID = crypto.ID{}
		s.advertise = append(s.advertise, ad.HostPort())
	}
	if len(c.Topics) == 0 {
		return nil, fieldErr("Topics", "at least one topic is required")
	}
	declared := map[uint8]int{} // topic ID → index in c.Topics
	for i := range c.Topics {
		tc := c.Topics[i]
		if tc.ID == 0 || tc.ID == PexTopic || tc.ID == DialBackTopic {
			return nil, fieldErr(fmt.Sprintf("Topics[%d].ID", i), "%d: application topics are 1-252 (253, 254 and 255 are the node's)", tc.ID)
		}
		if j, dup := declared[tc.ID]; dup {
			return nil, fieldErr(fmt.Sprintf("Topics[%d].ID", i), "%d declared twice (also Topics[%d]); each topic ID once", tc.ID, j)
		}
		declared[tc.ID] = i
		if tc.MaxMessageSize == 0 {
			tc.MaxMessageSize = mux.DefaultMaxMessageSize
		}
		if tc.MaxMessageSize < 0 || tc.MaxMessageSize > mux.MaxMessageSizeLimit-gossipOverhead {
			return nil, fieldErr(fmt.Sprintf("Topics[%d].MaxMessageSize", i), "%d outside 1-%d", tc.MaxMessageSize, mux.MaxMessageSizeLimit-gossipOverhead)
		}
		queueBytes := tc.SendQueueBytes
		if queueBytes != 0 {
			if queueBytes < tc.MaxMessageSize {
				return nil, fieldErr(fmt.Sprintf("Topics[%d].SendQueueBytes", i), "%d below MaxMessageSize %d", queueBytes, tc.MaxMessageSize)
			}
			queueBytes = max(queueBytes, tc.MaxMessageSize+gossipOverhead) // room for the largest message in its envelope
		}
		ct := tc.TopicConfig
		ct.MaxMessageSize += gossipOverhead
		if err := tc.chunkedDefaults(i); err != nil {
			return nil, err
		}
		if tc.Requests != nil { // the multiplexer carries the largest body of either stream
			rc, err := tc.Requests.withDefaults(i, tc.MaxMessageSize)
			if err != nil {
				return nil, err
			}
			tc.Requests = rc
			ct.MaxMessageSize = max(tc.MaxMessageSize, rc.MaxRequestSize, rc.MaxResponseSize) + gossipOverhead
			if queueBytes != 0 {
				queueBytes = max(queueBytes, ct.MaxMessageSize)
			}
		}
		ct.SendQueueBytes = queueBytes
		s.appTopics = append(s.appTopics, tc)
		s.connTopics = append(s.connTopics, ct)
	}
	for i := range s.appTopics {
		s.topicByID[s.appTopics[i].ID] = &s.appTopics[i]
	}
	s.connTopics = append(s.connTopics, mux.TopicConfig{ID: DialBackTopic, Name: "dialback", MaxMessageSize: dialBackMaxMessage},
		mux.TopicConfig{ID: PexTopic, Name: "pex", MaxMessageSize: pexMaxMessage})
	for i, b := range c.Bootstrap {
		a, err := crypto.ParseDialAddress(b)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("Bootstrap[%d]", i), "%v", err)
		}
		s.bootstrap = append(s.bootstrap, a)
	}
	for i, m := range c.MustConnect {
		a, err := crypto.ParseAddress(m)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("MustConnect[%d]", i), "%v (must-connect peers need their ID)", err)
		}
		s.must = append(s.must, a)
	}
	type dur struct {
		name string
		v    *time.Duration
		def  time.Duration
	}
	for _, d := range []dur{
		{"HandshakeTimeout", &s.HandshakeTimeout, conn.DefaultHandshakeTimeout},
		{"DialTimeout", &s.DialTimeout, DefaultDialTimeout},
		{"ResolveTimeout", &s.ResolveTimeout, DefaultResolveTimeout},
		{"FillInterval", &s.FillInterval, DefaultFillInterval},
		{"PexInterval", &s.PexInterval, DefaultPexInterval},
		{"ChurnInterval", &s.ChurnInterval, DefaultChurnInterval},
		{"SaveInterval", &s.SaveInterval, DefaultSaveInterval},
		{"MaintainInterval", &s.MaintainInterval, DefaultMaintainInterval},
		{"StatusInterval", &s.StatusInterval, DefaultStatusInterval},
		{"NoPeersWarn", &s.NoPeersWarn, DefaultNoPeersWarn},
		{"PexAnswerInterval", &s.PexAnswerInterval, DefaultPexAnswerInterval},
		{"GossipMaxAge", &s.GossipMaxAge, DefaultGossipMaxAge},
		{"GossipMaxSkew", &s.GossipMaxSkew, DefaultGossipMaxSkew},
		{"SeenTTL", &s.SeenTTL, -1}, // below: it depends on the two above
	} {
		if *d.v == 0 && d.def >= 0 {
			*d.v = d.def
		}
		if *d.v < 0 && d.name != "ChurnInterval" && d.name != "StatusInterval" && d.name != "NoPeersWarn" {
			return nil, fieldErr(d.name, "%v is negative", *d.v)
		}
	}
	type num struct {
		name string
		v    *int
		def  int
	}
	for _, n := range []num{
		{"MaxConcurrentDials", &s.MaxConcurrentDials, DefaultMaxConcurrentDials},
		{"MaxHandshakes", &s.MaxHandshakes, DefaultMaxHandshakes},
		{"HopLimit", &s.HopLimit, DefaultHopLimit},
		{"SeenCacheSize", &s.SeenCacheSize, DefaultSeenCacheSize},
	} {
		if *n.v == 0 {
			*n.v = n.def
		}
		if *n.v < 0 {
			return nil, fieldErr(n.name, "%d is negative", *n.v)
		}
	}
	switch {
	case s.ReservedHandshakes == 0:
		s.ReservedHandshakes = s.MaxHandshakes / 4
	case s.ReservedHandshakes < 0:
		s.ReservedHandshakes = 0
	case s.ReservedHandshakes >= s.MaxHandshakes:
		return nil, fieldErr("ReservedHandshakes", "%d leaves none of MaxHandshakes %d for strangers", s.ReservedHandshakes, s.MaxHandshakes)
	}
	switch {
	case s.IPBanAfter == 0:
		s.IPBanAfter = DefaultIPBanAfter
	case s.IPBanAfter > MaxIPBanAfter:
		return nil, fieldErr("IPBanAfter", "%d is above %d", s.IPBanAfter, MaxIPBanAfter)
	}
	switch {
	case s.IPBanWindow == 0:
		s.IPBanWindow = DefaultIPBanWindow
	case s.IPBanWindow < 0:
		return nil, fieldErr("IPBanWindow", "%v is negative", s.IPBanWindow)
	case s.IPBanWindow > MaxBanDuration:
		return nil, fieldErr("IPBanWindow", "%v is above %v", s.IPBanWindow, MaxBanDuration)
	}
	if s.SeenTTL == 0 {
		s.SeenTTL = max(DefaultSeenTTL, s.GossipMaxAge+s.GossipMaxSkew)
	}
	if s.SeenTTL < s.GossipMaxAge+s.GossipMaxSkew {
		return nil, fieldErr("SeenTTL", "%v is shorter than GossipMaxAge + GossipMaxSkew (%v): a message could be replayed while its timestamp is still acceptable",
			s.SeenTTL, s.GossipMaxAge+s.GossipMaxSkew)
	}
	if s.PingInterval != 0 && s.PingInterval < MinPingInterval {
		return nil, fieldErr("PingInterval", "%v is below %v: peers take faster pings for a flood", s.PingInterval, MinPingInterval)
	}
	if s.HopLimit > 255 {
		return nil, fieldErr("HopLimit", "%d is above 255", s.HopLimit)
	}
	if s.DialRate == 0 {
		s.DialRate = DefaultDialRate
	}
	if s.DialRate < 0 {
		return nil, fieldErr("DialRate", "%v is negative", s.DialRate)
	}
	if len(s.SoftwareVersion) > 64 {
		return nil, fieldErr("SoftwareVersion", "longer than 64 bytes")
	}
	if s.SeedMode && s.Role == pb.NodeRole_NODE_ROLE_UNSPECIFIED {
		s.Role = pb.NodeRole_NODE_ROLE_SEED // so peers know to ask, then leave
	}
	s.Clock = clock.Or(s.Clock)
	if s.connClock == nil {
		s.connClock = s.Clock
	}
	if s.serviceClock == nil {
		s.serviceClock = s.Clock
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.connLog = s.Logger.With("component", "conn")
	if s.Resolver == nil {
		s.Resolver = net.DefaultResolver
	}
	return s, nil
}

// spreadIntents applies the operator intents that span components
// (AllowLoopback, AllowPrivate, AllowNetworkNames) to the sub-configs.
func (s *settings) spreadIntents() {
	if s.AllowLoopback {
		s.Book.AllowLoopback = true
		s.Filter.ExemptLoopback = true
		if s.Peers.MaxOutboundPerGroup == 0 {
			s.Peers.MaxOutboundPerGroup = -1
		}
	}
	if s.AllowPrivate {
		s.Book.AllowPrivate = true
		s.Filter.ExemptPrivate = true
	}
	if s.AllowNetworkNames {
		s.Book.AllowNetworkNames = true
	}
}

// Now returns the time on the node's clock (Config.Clock).
func (s *settings) Now() time.Time { return s.Clock.Now() }

// ensureDataDir creates a missing DataDir, and its parents, readable only
// by the node's user (it holds the key).
func ensureDataDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("p2p: Config.DataDir: %w", err)
	}
	return nil
}
