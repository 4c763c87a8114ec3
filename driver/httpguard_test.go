package driver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The scheme name of Authorization matches in any case (RFC 7235 §2.1); the
// token itself exactly.
func TestHTTPBearerSchemeCaseInsensitive(t *testing.T) {
	a := openAPI(t, HandlerOptions{Token: "s3cret"})
	path := "/jobs/" + jobID + "/checkpoints/config"
	for auth, want := range map[string]int{"bearer s3cret": 200, "BEARER s3cret": 200, "BeArEr  s3cret": 200,
		"Bearer S3CRET": 401, "Bearers3cret": 401, "Bearer": 401} {
		if r := a.do("GET", path, "", "Authorization", auth); r.status != want {
			t.Errorf("%q: %d, want %d", auth, r.status, want)
		}
	}
}

// Without a token, a Host the server is not bound to gets 403 in Flink's error
// shape (DNS rebinding); with one, the token decides.
func TestHTTPHostCheck(t *testing.T) {
	hosts := LoopbackHosts("127.0.0.1:8081")
	if strings.Join(hosts, " ") != "127.0.0.1:8081 localhost:8081 [::1]:8081" {
		t.Fatalf("LoopbackHosts %v", hosts)
	}
	a := openAPI(t, HandlerOptions{Hosts: hosts})
	path := "/jobs/" + jobID + "/checkpoints/config"
	for host, want := range map[string]int{"127.0.0.1:8081": 200, "LOCALHOST:8081": 200, "[::1]:8081": 200,
		"rebind.example:8081": 403, "127.0.0.1:9999": 403, "localhost": 403, "": 403} {
		r := a.do("GET", path, "", "Host", host)
		if r.status != want {
			t.Errorf("Host %q: %d, want %d", host, r.status, want)
		}
		if want == 403 && !strings.Contains(errorsOf(t, r), "DNS rebinding") {
			t.Errorf("Host %q: %s", host, r.body)
		}
	}
	// A PATCH from a rebinding page changes nothing.
	r := a.do("PATCH", "/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointInterval":500}`, "Host", "rebind.example")
	if r.status != 403 || a.status().Effective.OverridesActive {
		t.Fatalf("rebinding PATCH: %d", r.status)
	}
	tok := openAPI(t, HandlerOptions{Hosts: hosts, Token: "t"})
	if r := tok.do("GET", path, "", "Host", "rebind.example", "Authorization", "Bearer t"); r.status != 200 {
		t.Fatalf("with a token the Host is not checked: %d", r.status)
	}
}

// A body must be declared JSON (415 otherwise, Flink's shape); a body without
// one, like Flink's bodiless POST, needs none.
func TestHTTPContentType(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	patch := "/jobs/" + jobID + "/checkpoints/configuration"
	for ct, want := range map[string]int{"text/plain": 415, "application/x-www-form-urlencoded": 415, "application/jsonx": 415,
		"application/json; charset=utf-8": 200, "Application/JSON": 200} {
		r := a.do("PATCH", patch, `{"checkpointTimeout":5000}`, "Content-Type", ct)
		if r.status != want {
			t.Errorf("Content-Type %q: %d, want %d: %s", ct, r.status, want, r.body)
		}
		if want == 415 && !strings.Contains(errorsOf(t, r), "application/json") {
			t.Errorf("Content-Type %q: %s", ct, r.body)
		}
	}
	if r := a.do("POST", "/jobs/"+jobID+"/checkpoints", ""); r.status != http.StatusAccepted {
		t.Fatalf("a bodiless POST: %d %s", r.status, r.body)
	}
}

// A duplicate key is refused (400) wherever a body is read: encoding/json would
// keep the last one silently, the history decoder refuses it.
func TestHTTPDuplicateKeys(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	for _, c := range []struct{ path, body string }{
		{"/checkpoints/configuration", `{"checkpointInterval":500,"checkpointInterval":900}`},
		{"/checkpoints/configuration", `{"checkpointTimeout":5000, "checkpointInterval":500, "checkpointTimeout":6000}`},
		{"/checkpoints", `{"checkpointType":"FULL","checkpointType":"INCREMENTAL"}`},
	} {
		r := a.do(http.MethodPatch, "/jobs/"+jobID+c.path, c.body)
		if c.path == "/checkpoints" {
			r = a.do(http.MethodPost, "/jobs/"+jobID+c.path, c.body)
		}
		if r.status != 400 || !strings.Contains(errorsOf(t, r), "duplicate field") {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	if a.status().Effective.OverridesActive {
		t.Fatal("a duplicate-key PATCH applied")
	}
	for body, want := range map[string]string{`{"a":1,"b":{"a":2}}`: "", `[{"a":1},{"a":2}]`: "", `{"a":[1,{"b":1,"b":2}]}`: "b",
		`{"a":{},"a":{}}`: "a", `{"x":{"y":[]},"z":1,"x":0}`: "x", `{"a":`: ""} {
		if got := duplicateKey([]byte(body)); got != want {
			t.Errorf("duplicateKey(%s) = %q, want %q", body, got, want)
		}
	}
}

// serveHardened runs NewServer on a loopback port with short timeouts and a
// cap of two connections.
func serveHardened(t *testing.T) string {
	t.Helper()
	a := openAPI(t, HandlerOptions{})
	srv, limit := NewServer(a.h, ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConns: 2})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(limit(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closes c within d (the read ends).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil // EOF: the server closed it; a timeout error: it did not
}

// A slow body, a slow header and an idle keep-alive connection are closed by
// the server's timeouts; the connection cap makes a third client wait until
// one of the two before it is gone.
func TestServerTimeoutsAndConnectionCap(t *testing.T) {
	addr := serveHardened(t)
	get := fmt.Sprintf("GET /jobs/%s/checkpoints/config HTTP/1.1\r\nHost: %s\r\n\r\n", jobID, addr)

	slowBody, _ := net.Dial("tcp", addr)
	fmt.Fprintf(slowBody, "PATCH /jobs/%s/checkpoints/configuration HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", jobID, addr)
	slowHeader, _ := net.Dial("tcp", addr)
	fmt.Fprintf(slowHeader, "GET / HTTP/1.1\r\n")
	if !closedWithin(slowBody, 5*time.Second) || !closedWithin(slowHeader, 5*time.Second) {
		t.Fatal("a slow body or header was held open past the read timeouts")
	}
	slowBody.Close()
	slowHeader.Close()

	idle, _ := net.Dial("tcp", addr)
	fmt.Fprint(idle, get)
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	resp.Body.Close()
	if !closedWithin(idle, 5*time.Second) {
		t.Fatal("an idle keep-alive connection was held past IdleTimeout")
	}
	idle.Close()

	// Two silent connections take both slots; a third waits for one. Their
	// header timeout runs from their accept, which is after heldAt.
	heldAt := time.Now()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(50 * time.Millisecond) // let the server accept both
	third, _ := net.Dial("tcp", addr) // the kernel completes the handshake; the server does not accept
	defer third.Close()
	fmt.Fprint(third, get)
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection: %v %v", resp, err)
	}
	// It was answered only once the header timeout (300 ms) had closed a held
	// one. Measured from before the held ones were dialled, so that a slow
	// machine (a long sleep above) can only make the wait longer, never shorter.
	if waited := time.Since(heldAt); waited < 250*time.Millisecond {
		t.Fatalf("the third connection was served %v after the two held ones were opened, past the cap of 2", waited)
	}
	for _, c := range held {
		c.Close()
	}
}
