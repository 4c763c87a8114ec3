package driver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// Server defaults (ServerOptions' zero values). A request's headers must
// arrive within ReadHeaderTimeout and its body within ReadTimeout; an idle
// keep-alive connection is closed after IdleTimeout; the answer must be
// written within WriteTimeout, which leaves a PATCH its PatchTimeout to become
// durable. MaxConns bounds open connections: beyond it new ones wait in the
// kernel's accept queue until one closes, so 5,000 idle clients cost a few
// hundred connections' memory, not 110 MB.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultPatchTimeout      = 30 * time.Second
	DefaultMaxConns          = 256
)

// ServerOptions configures NewServer; zero values take the defaults above.
type ServerOptions struct {
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// WriteTimeout bounds writing an answer, counted from the end of reading
	// the request headers; 0 means PatchTimeout plus ReadTimeout, so that a
	// PATCH that waits PatchTimeout for durability still gets its answer.
	WriteTimeout time.Duration
	// PatchTimeout is the handler's HandlerOptions.PatchTimeout (for the
	// default WriteTimeout); 0 means DefaultPatchTimeout.
	PatchTimeout time.Duration
	// MaxConns bounds simultaneous connections; 0 means DefaultMaxConns.
	MaxConns int
}

// NewServer returns an http.Server for h with every timeout set, and a
// listener wrapper that caps connections (netutil.LimitListener: once the cap
// is reached Accept waits for a connection to close, instead of the process
// holding unbounded idle connections). Serve with srv.Serve(limit(ln)).
func NewServer(h http.Handler, o ServerOptions) (srv *http.Server, limit func(net.Listener) net.Listener) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.PatchTimeout, DefaultPatchTimeout)
	def(&o.WriteTimeout, o.PatchTimeout+o.ReadTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	srv = &http.Server{Handler: h, ReadHeaderTimeout: o.ReadHeaderTimeout, ReadTimeout: o.ReadTimeout,
		WriteTimeout: o.WriteTimeout, IdleTimeout: o.IdleTimeout, MaxHeaderBytes: 64 << 10}
	return srv, func(ln net.Listener) net.Listener { return netutil.LimitListener(ln, o.MaxConns) }
}

// LoopbackHosts returns the Host header values a browser sends for a server
// bound to addr (host:port) on a loopback interface: the address itself and
// localhost, 127.0.0.1 and [::1] with its port. HandlerOptions.Hosts.
func LoopbackHosts(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	hosts := []string{addr}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if hp := net.JoinHostPort(h, port); hp != addr {
			hosts = append(hosts, hp)
		}
	}
	return hosts
}

// Guard returns next behind the checks every endpoint of the job API makes
// before it routes (NewHandler's): a missing or wrong bearer token when
// opts.Token is set (401), a Host outside opts.Hosts when it is not (403), a
// body not declared JSON (415); refusals in Flink's error shape. Only Token and
// Hosts of opts are read. A front that routes to job handlers (the HA manager:
// /ha/status, its redirects and 503s) uses it so that no endpoint of the
// process answers without the token.
func Guard(next http.Handler, opts HandlerOptions) http.Handler {
	g := access{token: opts.Token, hosts: opts.Hosts}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// access is the request guard's configuration: the handler's and Guard's.
type access struct {
	token string
	hosts []string
}

// authorized checks "Authorization: Bearer <token>"; the scheme name is
// case-insensitive (RFC 7235 §2.1), the token compared in constant time.
func (g access) authorized(r *http.Request) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimLeft(got, " ")), []byte(g.token)) == 1
}

// hostAllowed guards a server without a token against DNS rebinding: a page
// on evil.example that resolves its name to 127.0.0.1 reaches the API, but
// its requests carry Host: evil.example. Only the hosts the server is bound
// to pass (HandlerOptions.Hosts; none listed means no check).
func (g access) hostAllowed(r *http.Request) bool {
	if g.token != "" || len(g.hosts) == 0 {
		return true
	}
	for _, a := range g.hosts {
		if strings.EqualFold(r.Host, a) {
			return true
		}
	}
	return false
}

// admit refuses what no endpoint accepts: a missing or wrong token (401), a
// Host the server is not bound to (403), a body that is not declared JSON
// (415). It writes the answer and returns false when it refuses.
func (g access) admit(w http.ResponseWriter, r *http.Request) bool {
	if g.token != "" && !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ckptcore"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return false
	}
	if !g.hostAllowed(r) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not this server's (allowed: %s): "+
			"requests must name the address the server is bound to (DNS rebinding protection)", r.Host, strings.Join(g.hosts, ", ")))
		return false
	}
	if hasBody(r) {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: a request body must be application/json", ct))
			return false
		}
	}
	return true
}

// guard is admit with the handler's options.
func (h *handler) guard(w http.ResponseWriter, r *http.Request) bool {
	return access{token: h.opts.Token, hosts: h.opts.Hosts}.admit(w, r)
}

// hasBody reports whether a request that may carry a body does.
func hasBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return r.ContentLength != 0
	}
	return false
}

// duplicateKey returns the first object key that appears twice in one object
// of a JSON document ("" if none): encoding/json keeps the last silently, the
// history decoder refuses it, and so does the API.
func duplicateKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object    bool
		keys      map[string]bool
		expectKey bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return "" // malformed JSON is reported by the decoder proper
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return key
			}
			top.keys[key] = true
			top.expectKey = false
			continue
		}
		if top != nil && top.object {
			top.expectKey = true // this token is a value (or opens one)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
