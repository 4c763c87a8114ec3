// Package etcdtest starts a real etcd server in-process (go.etcd.io/etcd/server/v3/embed)
// for tests: one member, free loopback ports, a data directory the caller
// owns. Programs do not link it (only tests import it).
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Start starts a one-member etcd with its data and log under dir and returns
// it once it serves; its client address is Endpoint(e). Its raft ticks are
// short (10 ms, election 100 ms) so that its minimum lease TTL is 1 s (etcd
// allows no lease shorter than 1.5 election timeouts): takeovers in tests take
// about a second. Close stops it.
func Start(dir string) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "data")
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	cfg.TickMs, cfg.ElectionMs = 10, 100
	client, err := freeURL()
	if err != nil {
		return nil, err
	}
	peer, err := freeURL()
	if err != nil {
		return nil, err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcdtest: etcd not ready after 30s (log: %s)", cfg.LogOutputs[0])
	}
}

// Endpoint is the host:port of e's client listener.
func Endpoint(e *embed.Etcd) string { return e.Clients[0].Addr().String() }

// freeURL picks a free loopback port (closed again before etcd binds it).
func freeURL() (url.URL, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	defer ln.Close()
	return url.URL{Scheme: "http", Host: ln.Addr().String()}, nil
}
