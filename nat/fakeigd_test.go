package nat

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
)

// fakeIGD is an in-process UPnP Internet Gateway Device: an SSDP
// responder on 127.0.0.1 (startSSDP), a root device description and a
// WANIPConnection:1 SOAP control endpoint on loopback HTTP, with fault
// injection.
type fakeIGD struct {
	srv *httptest.Server

	mu       sync.Mutex // guards the fields below
	extIP    string
	mappings map[string]fakeMapping // by external port
	calls    map[string]int         // SOAP calls by action
	requests int                    // HTTP requests of any kind
	down     bool                   // every request fails with HTTP 503
	faults   int                    // the next faults SOAP calls answer a UPnP error
	searches []string               // the search targets of the M-SEARCH requests, in order
}

type fakeMapping struct {
	intPort, client, desc string
	lease                 string
}

const igdService = "urn:schemas-upnp-org:service:WANIPConnection:1"

func newFakeIGD(t *testing.T) *fakeIGD {
	f := &fakeIGD{extIP: "203.0.113.7", mappings: map[string]fakeMapping{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIGD) rootURL() string { return f.srv.URL + "/rootDesc.xml" }

const rootDesc = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>fake IGD</friendlyName><UDN>uuid:fake-igd</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><UDN>uuid:fake-wan</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><UDN>uuid:fake-wanconn</UDN>
<serviceList><service>
<serviceType>` + igdService + `</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<SCPDURL>/scpd.xml</SCPDURL><controlURL>/ctl</controlURL><eventSubURL>/evt</eventSubURL>
</service></serviceList>
</device></deviceList>
</device></deviceList>
</device>
</root>`

func (f *fakeIGD) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	down := f.down
	f.mu.Unlock()
	if down {
		http.Error(w, "rebooting", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/rootDesc.xml":
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, rootDesc)
	case "/ctl":
		f.control(w, r)
	default:
		http.NotFound(w, r)
	}
}

// soapArgs decodes a SOAP request body: the action element inside Body
// and its child elements' text.
func soapArgs(body io.Reader) (string, map[string]string, error) {
	d := xml.NewDecoder(body)
	args := map[string]string{}
	depth, action, cur := 0, "", ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 3:
				action = t.Name.Local
			case 4:
				cur = t.Name.Local
				args[cur] = ""
			}
		case xml.CharData:
			if depth == 4 {
				args[cur] += string(t)
			}
		case xml.EndElement:
			depth--
		}
	}
	return action, args, nil
}

func (f *fakeIGD) control(w http.ResponseWriter, r *http.Request) {
	action, args, err := soapArgs(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[action]++
	if f.faults > 0 {
		f.faults--
		fault(w, 501, "ActionFailed")
		return
	}
	out := ""
	switch action {
	case "AddPortMapping":
		if args["NewProtocol"] != "TCP" || args["NewInternalClient"] == "" {
			fault(w, 402, "Invalid Args")
			return
		}
		f.mappings[args["NewExternalPort"]] = fakeMapping{intPort: args["NewInternalPort"],
			client: args["NewInternalClient"], desc: args["NewPortMappingDescription"], lease: args["NewLeaseDuration"]}
	case "DeletePortMapping":
		if _, ok := f.mappings[args["NewExternalPort"]]; !ok {
			fault(w, 714, "NoSuchEntryInArray")
			return
		}
		delete(f.mappings, args["NewExternalPort"])
	case "GetExternalIPAddress":
		out = "<NewExternalIPAddress>" + f.extIP + "</NewExternalIPAddress>"
	default:
		fault(w, 401, "Invalid Action")
		return
	}
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%sResponse xmlns:u="%s">%s</u:%sResponse></s:Body></s:Envelope>`,
		action, igdService, out, action)
}

func fault(w http.ResponseWriter, code int, desc string) {
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>%d</errorCode><errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`,
		code, desc)
}

// restart forgets every mapping and, with down, keeps failing until up.
func (f *fakeIGD) restart(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mappings = map[string]fakeMapping{}
	f.down = down
}

func (f *fakeIGD) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeIGD) mapping(ext string) (fakeMapping, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.mappings[ext]
	return m, ok
}

func (f *fakeIGD) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func (f *fakeIGD) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *fakeIGD) setFaults(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = n
}

// startSSDP starts the fake's SSDP responder: a UDP socket on 127.0.0.1
// (never multicast) that answers an M-SEARCH for the fake's service, as
// a router does, with the root description's URL, and ignores other
// targets and everything while the fake is down. It returns the address
// to search at (Config.ssdpAddr).
func (f *fakeIGD) startSSDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf[:n])))
			if err != nil || req.Method != "M-SEARCH" || req.Header.Get("MAN") != `"ssdp:discover"` {
				continue
			}
			st := req.Header.Get("ST")
			f.mu.Lock()
			f.searches = append(f.searches, st)
			down := f.down
			f.mu.Unlock()
			if down || st != igdService {
				continue
			}
			fmt.Fprintf(writerTo{pc, from}, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nEXT:\r\nLOCATION: %s\r\n"+
				"SERVER: fake/1 UPnP/1.1 fakeigd/1\r\nST: %s\r\nUSN: uuid:fake-igd::%s\r\n\r\n", f.rootURL(), st, st)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// writerTo writes each Write as one datagram to addr.
type writerTo struct {
	pc   net.PacketConn
	addr net.Addr
}

func (w writerTo) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.addr) }

func (f *fakeIGD) searchTargets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.searches...)
}
