package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

var _ driver.Store = (*Store)(nil)

// The contract of driver.Store, as the FileStore's TestStoreRoundTrip states it.
func TestStoreRoundTrip(t *testing.T) {
	cli := newClient(t)
	job := freshJob("roundtrip")
	s, _ := leaderStore(t, cli, job, "n1")
	if d, err := s.Load(); err != nil || !reflect.DeepEqual(d, fsm.Durable{NextID: 1}) {
		t.Fatalf("empty store: %+v %v", d, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Save(driver.Metadata{ID: 3, Kind: fsm.KindCheckpoint, Owned: true, Restored: true}))
	must(s.Save(driver.Metadata{ID: 7, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional, Consecutive: 2, Owned: true,
		Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 3}, {Region: 12, Checkpoint: 5}}}))
	must(s.Save(driver.Metadata{ID: 12, Kind: fsm.KindCheckpoint, Owned: true}))
	must(s.Save(driver.Metadata{ID: 9, Kind: fsm.KindSavepoint, Owned: true}))
	must(s.Delete(fsm.KindCheckpoint, 12))
	must(s.SaveOverrides(2000, 30000))
	must(s.SaveNextID(8))
	must(s.SaveRestored(3, true))

	got, err := s.Load()
	must(err)
	want := fsm.Durable{
		NextID: 10, // the savepoint's id counts (R14)
		Known: []fsm.StoredCheckpoint{
			{ID: 3, Owned: true, Restored: true},
			{ID: 7, Mode: fsm.ModeRegional, Consecutive: 2, Owned: true,
				Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 3}, {Region: 12, Checkpoint: 5}}},
		},
		Overrides:  &fsm.EffectiveConfig{IntervalMs: 2000, TimeoutMs: 30000, OverridesActive: true},
		RestoredID: 3, NoClaim: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", got, want)
	}
	// Key order is id order, past one digit (zero-padded ids).
	must(s.Save(driver.Metadata{ID: 100, Kind: fsm.KindCheckpoint, Owned: true}))
	got, err = s.Load()
	must(err)
	if ids := knownIDs(got); !reflect.DeepEqual(ids, []int64{3, 7, 100}) || got.NextID != 101 {
		t.Fatalf("known %v next %d", ids, got.NextID)
	}
	// Every value names its writer and the writer's election key revision.
	resp, err := cli.Get(context.Background(), Prefix(job)+"checkpoints/", clientv3.WithPrefix())
	must(err)
	for _, kv := range resp.Kvs {
		var v struct {
			Writer    string `json:"writer"`
			LeaderRev int64  `json:"leader_rev"`
		}
		must(json.Unmarshal(kv.Value, &v))
		if v.Writer != "n1" || v.LeaderRev != s.Leadership().Rev {
			t.Errorf("%s: writer %q leader_rev %d, want n1 %d", kv.Key, v.Writer, v.LeaderRev, s.Leadership().Rev)
		}
	}
}

func knownIDs(d fsm.Durable) []int64 {
	var ids []int64
	for _, k := range d.Known {
		ids = append(ids, k.ID)
	}
	return ids
}

func TestStoreDeleteIsIdempotent(t *testing.T) {
	s, _ := leaderStore(t, newClient(t), freshJob("delete"), "n1")
	if err := s.Save(driver.Metadata{ID: 1, Kind: fsm.KindCheckpoint, Owned: true}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Delete(fsm.KindCheckpoint, 1); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if d, err := s.Load(); err != nil || len(d.Known) != 0 {
		t.Fatalf("%+v %v", d, err)
	}
}

// fillEveryField sets every field of a struct to a non-zero value, recursing
// into slices of structs, so that a field added later is covered too.
func fillEveryField(t *testing.T, v reflect.Value, seed int64) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fillEveryField(t, v.Field(i), seed+int64(i)+1)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillEveryField(t, s.Index(i), seed*10+int64(i))
		}
		v.Set(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(seed)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%2 + 1))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", int(seed%5)))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillEveryField(t, p.Elem(), seed)
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillEveryField(t, k, seed)
		fillEveryField(t, e, seed+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		t.Fatalf("fillEveryField: a %s field: extend the filler", v.Kind())
	}
}

// TestMetadataCodecCarriesEveryField: the value codec carries every field of
// driver.Metadata, present and future (a pointer to checkpoint storage, state
// handles), without a change in this module (OWNERS.md).
func TestMetadataCodecCarriesEveryField(t *testing.T) {
	var m driver.Metadata
	fillEveryField(t, reflect.ValueOf(&m).Elem(), 1)
	body, err := encodeValue(valueEnvelope{Format: valueFormat, Writer: "n", LeaderRev: 1, Metadata: &m})
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeValue(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*v.Metadata, m) {
		t.Fatalf("decoded\n%+v\nwant\n%+v\n(value %s)", *v.Metadata, m, body)
	}
}

// Every malformed value is an error naming its key and the reason; nothing else loads.
func TestLoadRejectsMalformedKeys(t *testing.T) {
	cli := newClient(t)
	ok := func(payload string) string {
		return `{"format":"ckpt-etcd/v1","writer":"n0","leader_rev":1,` + payload + `}`
	}
	meta := func(id int64, rest string) string {
		b, _ := json.Marshal(driver.Metadata{ID: id, Owned: true})
		s := string(b)
		if rest != "" {
			s = s[:len(s)-1] + "," + rest + "}"
		}
		return ok(`"metadata":` + s)
	}
	cases := []struct{ name, key, value, reason string }{
		{"truncated", "next-id", `{"format":"ckpt-etcd/v1","wri`, "corrupt"},
		{"garbage after", "next-id", ok(`"next_id":4`) + ` x`, "corrupt"},
		{"unknown field", "next-id", ok(`"next_id":4,"x":1`), "unknown field"},
		{"unknown metadata field", "checkpoints/00000000000000000004", meta(4, `"Gone":1`), "unknown field"},
		{"wrong format", "next-id", strings.Replace(ok(`"next_id":4`), "v1", "v9", 1), "format"},
		{"no writer", "next-id", `{"format":"ckpt-etcd/v1","next_id":4}`, "writer"},
		{"two payloads", "next-id", ok(`"next_id":4,"restored":{"checkpoint":1,"mode":"claim"}`), "payloads"},
		{"wrong payload", "overrides", ok(`"next_id":4`), "unexpected key"},
		{"bad override", "overrides", ok(`"overrides":{"interval_ms":5,"timeout_ms":100}`), "interval_ms"},
		{"bad next id", "next-id", ok(`"next_id":0`), "next_id"},
		{"bad restored", "restored", ok(`"restored":{"checkpoint":3,"mode":"own"}`), "mode"},
		{"id mismatch", "checkpoints/00000000000000000004", meta(5, ""), "does not match"},
		{"short id", "checkpoints/4", meta(4, ""), "unexpected key"},
		{"ref not older", "checkpoints/00000000000000000004", meta(4, `"Mode":1,"Refs":[{"Region":1,"Checkpoint":4}]`), "older"},
		{"regional without refs", "checkpoints/00000000000000000004", meta(4, `"Mode":1`), "regional exactly"},
		{"savepoint under checkpoints", "checkpoints/00000000000000000004", meta(4, `"Kind":1`), "kind"},
		{"stray key", "something", ok(`"next_id":4`), "unexpected key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := freshJob("malformed")
			s, _ := leaderStore(t, cli, job, "n1")
			key := Prefix(job) + c.key
			if _, err := cli.Put(context.Background(), key, c.value); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != key || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %v, want a KeyError naming %s with %q", err, key, c.reason)
			}
		})
	}
}

// storedKeys lists a job's keys other than election keys.
func storedKeys(t *testing.T, cli *clientv3.Client, job string) map[string]string {
	t.Helper()
	resp, err := cli.Get(context.Background(), Prefix(job), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		if !strings.HasPrefix(string(kv.Key), ElectionPrefix(job)) {
			out[string(kv.Key)] = string(kv.Value)
		}
	}
	return out
}

// TestFencingRevokedLease: once the leader's lease is revoked (its key is
// gone), none of its writes gets through, Load fails too, and the Store says
// it is fenced.
func TestFencingRevokedLease(t *testing.T) {
	cli := newClient(t)
	job := freshJob("fence-revoke")
	s, sess := leaderStore(t, cli, job, "old")
	if err := s.SaveNextID(5); err != nil {
		t.Fatal(err)
	}
	before := storedKeys(t, cli, job)
	if _, err := cli.Revoke(context.Background(), sess.Lease()); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"Save":          func() error { return s.Save(driver.Metadata{ID: 9, Kind: fsm.KindCheckpoint, Owned: true}) },
		"Delete":        func() error { return s.Delete(fsm.KindCheckpoint, 1) },
		"SaveOverrides": func() error { return s.SaveOverrides(100, 1000) },
		"SaveNextID":    func() error { return s.SaveNextID(9) },
		"SaveRestored":  func() error { return s.SaveRestored(3, false) },
		"Load":          func() error { _, err := s.Load(); return err },
	}
	for name, w := range writes {
		if err := w(); !errors.Is(err, ErrFenced) {
			t.Errorf("%s after the lease was revoked: %v, want ErrFenced", name, err)
		}
	}
	select {
	case <-s.Fenced():
	default:
		t.Error("Fenced() not closed")
	}
	if after := storedKeys(t, cli, job); !reflect.DeepEqual(after, before) {
		t.Fatalf("a deposed leader's write got through:\nbefore %v\nafter  %v", before, after)
	}
}

// TestFencingSecondCampaignerWins: the old leader's lease runs out (a paused
// process: no keep-alive), a second node wins the election; the old Store's
// writes fail and the new leader's values are the ones in etcd.
func TestFencingSecondCampaignerWins(t *testing.T) {
	job := freshJob("fence-second")
	oldCli := newClient(t)
	old, sess := leaderStore(t, oldCli, job, "old")
	if err := old.SaveOverrides(1000, 10000); err != nil {
		t.Fatal(err)
	}
	// Orphan: the keep-alive stops, the lease expires after its TTL, as for a
	// paused or partitioned leader.
	sess.Orphan()
	newCli := newClient(t)
	start := time.Now()
	_, lead := campaign(t, newCli, job, "new", 5)
	t.Logf("the second campaigner won %v after the old leader's keep-alive stopped (TTL 5s)", time.Since(start).Round(time.Millisecond))
	cur, err := NewStore(newCli, job, lead)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := cur.Load(); err != nil || d.Overrides == nil || d.Overrides.IntervalMs != 1000 {
		t.Fatalf("the new leader loads %+v %v, want the old leader's overrides", d, err)
	}
	if err := old.SaveOverrides(2000, 20000); !errors.Is(err, ErrFenced) {
		t.Fatalf("old leader's write: %v, want ErrFenced", err)
	}
	if err := cur.SaveOverrides(3000, 30000); err != nil {
		t.Fatal(err)
	}
	if err := old.Save(driver.Metadata{ID: 4, Kind: fsm.KindCheckpoint, Owned: true}); !errors.Is(err, ErrFenced) {
		t.Fatalf("old leader's write: %v, want ErrFenced", err)
	}
	keys := storedKeys(t, newCli, job)
	if len(keys) != 1 {
		t.Fatalf("keys %v, want only the overrides", keys)
	}
	v, err := decodeValue([]byte(keys[overridesKey(job)]))
	if err != nil || v.Writer != "new" || v.LeaderRev != lead.Rev || v.Overrides.IntervalMs != 3000 {
		t.Fatalf("overrides %+v %v, want the new leader's", v, err)
	}
}
