package timeline

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the README's screenshot, docs/timeline.png")

// chromium finds Debian's chromium (scripts/install-chromium.sh installs it;
// $CHROMIUM overrides), or skips the test saying why.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("SKIP: no chromium on this machine: `make chromium` installs Debian's (scripts/install-chromium.sh, needs root)")
	return ""
}

// browser starts a headless chromium with a new, empty profile and collects
// every console message of its page.
func browser(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1360, 660),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	messages := chromedp.Console(bctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		bcancel()
		acancel()
		cancel()
		<-done
	})
	return bctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), msgs...)
	}
}

// expected counts the marks a history must show, from replay's summary and
// the history's events — not from the timeline's own model.
type expected struct {
	global, regional, aborted, forced, refs, configs, recovers, failovers int
}

func expect(t *testing.T, path string) expected {
	t.Helper()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := history.Replay(h, history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	for _, c := range res.Summary.Completed {
		if c.Kind != "checkpoint" {
			continue
		}
		if c.Mode == "regional" {
			e.regional++
		} else {
			e.global++
		}
		for _, ref := range c.Refs {
			if ref != c.ID {
				e.refs++ // one row per region at this size
			}
		}
	}
	e.aborted = len(res.Summary.Aborted)
	for _, tr := range res.Summary.Triggered {
		if tr.ForcedGlobal {
			e.forced++
		}
	}
	seen := map[[2]int64]bool{}
	for _, rec := range h.Records {
		switch rec.Event.Type {
		case fsm.EvConfigPatch:
			e.configs++ // each patch of this history is confirmed
		case fsm.EvRecover:
			e.recovers++
		case fsm.EvTaskFailed:
			k := [2]int64{int64(h.Topology.RegionOf(rec.Event.Task)), rec.Event.At}
			if !seen[k] {
				seen[k] = true
				e.failovers++
			}
		}
	}
	return e
}

func renderFile(t *testing.T, src string, opts Options) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := history.NewReader(f, src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "timeline.html")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Write(w, r, opts); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBrowserRendersTimeline opens the page of a regional history (global and
// regional completions, fallbacks, aborts, forced-global checkpoints, a
// FLIP-571 change, a recovery, failovers) in headless Chromium: no console
// message at all, every expected mark drawn, a real mouse hover over a
// fallback mark shows the checkpoint it references. It takes the README's
// screenshot (written with -update-screenshot).
func TestBrowserRendersTimeline(t *testing.T) {
	src := filepath.Join("testdata", "demo.jsonl")
	want := expect(t, src)
	if want.regional == 0 || want.aborted == 0 || want.forced == 0 || want.refs == 0 || want.configs == 0 ||
		want.recovers == 0 || want.failovers == 0 {
		t.Fatalf("the history no longer shows every kind of mark: %+v", want)
	}
	page := renderFile(t, src, Options{Title: "demo.jsonl — 8 regions, regional checkpoints"})
	ctx, console := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => {
		const n = s => document.querySelectorAll(s).length;
		return {global: n(".ck.completed.global:not(.savepoint)"), regional: n(".ck.completed.regional:not(.savepoint)"),
			aborted: n(".ck.aborted"), forced: n(".ck.forced"), refs: n(".ref"), configs: n(".vl.config"),
			recovers: n(".vl.recover"), failovers: n(".fo"), rows: n(".row")};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]int{"global": want.global, "regional": want.regional, "aborted": want.aborted,
		"forced": want.forced, "refs": want.refs, "configs": want.configs, "recovers": want.recovers,
		"failovers": want.failovers, "rows": 8} {
		if got[name] != w {
			t.Errorf("%s marks: %d drawn, want %d", name, got[name], w)
		}
	}
	// A real mouse move over a fallback mark.
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const r = document.querySelector(".ref").getBoundingClientRect();
		return [r.x + r.width / 2, r.y + r.height / 2];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0], box[1])); err != nil {
		t.Fatal(err)
	}
	details, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("details").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, "uses the state of checkpoint") {
		t.Errorf("hover over a fallback mark shows %q", details)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 1000 {
		t.Fatalf("screenshot: %v %v", err, img.Bounds())
	}
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "timeline.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range console() {
		t.Errorf("console: %s", m)
	}
}

// TestBrowserLargeJob: 10,000 regions become DefaultMaxRows aggregated rows,
// 100,000 events 10,000 checkpoint marks, and both pages load and answer a
// hover without a console message.
func TestBrowserLargeJob(t *testing.T) {
	for _, c := range []struct {
		name         string
		regions, cks int
		rows         int
	}{{"10,000 regions", 10_000, 6, DefaultMaxRows}, {"100,000 events", 4, 10_000, 4}} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := largeBuilder(t, c.regions, c.cks).Render(&buf, Options{Title: c.name}); err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(t.TempDir(), "large.html")
			if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, console := browser(t)
			start := time.Now()
			if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page)); err != nil {
				t.Fatal(err)
			}
			loaded := time.Since(start)
			got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => {
				const ck = document.querySelectorAll(".ck");
				ck[ck.length - 1].dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
				return {rows: document.querySelectorAll(".row").length, ck: ck.length,
					refs: document.querySelectorAll(".ref").length,
					hover: document.getElementById("details").textContent.startsWith("checkpoint ") ? 1 : 0};
			})()`))
			if err != nil {
				t.Fatal(err)
			}
			if got["rows"] != c.rows || got["ck"] != c.cks || got["refs"] == 0 || got["hover"] != 1 {
				t.Errorf("%s: %v", c.name, got)
			}
			for _, m := range console() {
				t.Errorf("console: %s", m)
			}
			t.Logf("%s: %d bytes, loaded in %v, %v", c.name, buf.Len(), loaded.Round(time.Millisecond), got)
		})
	}
}

// largeBuilder steps a job of n regions (src→sink pointwise) through k
// checkpoints in which every 97th region declines.
func largeBuilder(t testing.TB, n, k int) *Builder {
	t.Helper()
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{
		{ID: "src", Parallelism: n, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: n}},
		Edges: []fsm.EdgeSpec{{From: "src", To: "sink"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled = true
	cfg.Regional.MaxConsecutive = 1 << 20
	s, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(topo, cfg, 0)
	step := func(ev fsm.Event) {
		effs, err := s.Step(ev)
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", fsm.DescribeEvent(topo, ev), err))
		}
		b.Step(ev, effs)
	}
	step(fsm.Event{At: 0, Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1}})
	for c := 1; c <= k; c++ {
		at := int64(c) * 1000
		step(fsm.Event{At: at, Type: fsm.EvTick})
		id := int64(c + 1)
		for task := fsm.TaskID(0); task < fsm.TaskID(topo.NumSubtasks()); task++ {
			if r := topo.RegionOf(task); r%97 == c%97 && task < fsm.TaskID(n) {
				step(fsm.Event{At: at + 10, Type: fsm.EvDecline, Checkpoint: id, Task: task})
				continue
			}
			step(fsm.Event{At: at + 10, Type: fsm.EvAck, Checkpoint: id, Task: task})
		}
		step(fsm.Event{At: at + 20, Type: fsm.EvPersisted, Checkpoint: id})
	}
	return b
}
