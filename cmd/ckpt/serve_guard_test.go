package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveDo sends one request to a running serve and returns its status and body.
func serveDo(t *testing.T, method, url, host, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// Without a token, serve answers only requests that name its loopback address
// (a DNS-rebinding page names its own host); --max-timeout bounds a PATCH's
// timeout (R60's max_timeout_ms).
func TestServeHostCheckAndMaxTimeout(t *testing.T) {
	t.Setenv(tokenEnv, "")
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(ctx, t, "--state-dir", t.TempDir(), "--timeout", "2000", "--max-timeout", "4000")
	defer func() { cancel(); waitServe(t, done) }()
	base := "http://" + addr + "/jobs/demo/checkpoints"
	if code, body := serveDo(t, "GET", base+"/config", "rebind.example:8081", "", ""); code != 403 || !strings.Contains(body, `{"errors":["host \"rebind.example:8081\"`) {
		t.Fatalf("foreign Host: %d %s", code, body)
	}
	if code, body := serveDo(t, "GET", base+"/config", "", "", ""); code != 200 || !strings.Contains(body, `"max_timeout":4000`) {
		t.Fatalf("own Host: %d %s", code, body)
	}
	if code, body := serveDo(t, "PATCH", base+"/configuration", "", "", `{"checkpointTimeout": 5000}`); code != 400 || !strings.Contains(body, "4000") {
		t.Fatalf("timeout above --max-timeout: %d %s", code, body)
	}
	if code, body := serveDo(t, "PATCH", base+"/configuration", "", "", `{"checkpointTimeout": 3000}`); code != 200 {
		t.Fatalf("timeout within --max-timeout: %d %s", code, body)
	}
}

// The token comes from a file (refused when others can read it) or the
// environment, never the command line; the scheme name matches in any case.
func TestServeTokenFromFileOrEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readToken(file); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable token file: %v", err)
	}
	os.Chmod(file, 0o600)
	t.Setenv(tokenEnv, "from-env")
	if tok, err := readToken(file); tok != "s3cret" || err != nil {
		t.Fatalf("token file: %q %v", tok, err)
	}
	if tok, err := readToken(""); tok != "from-env" || err != nil {
		t.Fatalf("environment: %q %v", tok, err)
	}
	if code, _, stderr := ckpt(t, "", "serve", "--token", "x"); code != 2 || !strings.Contains(stderr, "unknown flag: --token") {
		t.Fatalf("--token on the command line: exit %d %s", code, stderr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(ctx, t, "--state-dir", t.TempDir(), "--token-file", file)
	defer func() { cancel(); waitServe(t, done) }()
	url := "http://" + addr + "/jobs/demo/checkpoints/config"
	for auth, want := range map[string]int{"": 401, "Bearer from-env": 401, "bearer s3cret": 200, "BEARER s3cret": 200, "Bearer s3cret": 200} {
		// With a token the Host is not checked: the token is the protection.
		if code, body := serveDo(t, "GET", url, "rebind.example", auth, ""); code != want {
			t.Errorf("Authorization %q: %d, want %d: %s", auth, code, want, body)
		}
	}
}
