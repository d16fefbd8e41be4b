package httpapi_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
	"github.com/peerwire/peerwire/p2p/metrics"
)

// ExampleNew mounts the admin API under /admin/ in the application's own
// server, with Prometheus metrics and a bearer token.
func ExampleNew() {
	node, err := p2p.New(p2p.Config{
		DataDir:   "node-data",
		NetworkID: "mainnet",
		Topics:    []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "consensus", Priority: 10}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := node.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer node.Stop(context.Background())

	api := httpapi.New(node, httpapi.Options{
		Token:   "read-this-from-a-secret-file",
		Metrics: metrics.Handler(node),
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", api))
	srv := &http.Server{Addr: "127.0.0.1:26660", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
