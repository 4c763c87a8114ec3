package history

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzDecodeBinary feeds arbitrary records after a fixed binary header (magic,
// version, header line, start): decoding never panics; every error is an
// *Error with the byte offset, and ToNDJSON fails with the same error; what
// decodes converts to NDJSON that decodes to the same records and converts
// back to a binary history with the same NDJSON.
//
//	go test ./history -run '^$' -fuzz FuzzDecodeBinary -fuzztime 30s
func FuzzDecodeBinary(f *testing.F) {
	for seed := range uint64(3) {
		_, bin := randomFlight(f, rand.New(rand.NewPCG(seed, 1)))
		if len(bin) < 4096 { // the fuzzer's inputs stay small
			f.Add(bin[len(BinaryMagic)+1:])
		}
	}
	f.Add(record(binRun, 1, runAck, runRecorded, 1, 0, 2, 0, 1, 4, 1))
	f.Add(record(binRun, 1, runAck, runSizes, 1, 1, 1, 2, 1, 5, 6))
	f.Add(record(binRun, 1, runDecline, 0, 1, 8, 'd', 'e', 'c', 'l', 'i', 'n', 'e', 'd', 0, 1, 6, 1))
	f.Add(append(record(binRun, 1, runTaskFailed, 0, 0, 1, 2, 2), record(binLine, []byte("// c")...)...))
	f.Add(record(binLine, []byte(`{"at":3,"type":"trigger","kind":"checkpoint","effects":[]}`)...))
	f.Fuzz(func(t *testing.T, records []byte) {
		data := append(binHeader(), records...)
		h, err := Decode(bytes.NewReader(data), "f")
		var conv bytes.Buffer
		cerr := ToNDJSON(&conv, bytes.NewReader(data), "f")
		if err != nil {
			var he *Error
			if !errors.As(err, &he) || he.Offset <= 0 || he.Offset > int64(len(data)) {
				t.Fatalf("error %T %v: want an *Error with an offset in the input", err, err)
			}
			if cerr == nil || cerr.Error() != err.Error() {
				t.Fatalf("Decode: %v, ToNDJSON: %v", err, cerr)
			}
			return
		}
		if cerr != nil {
			t.Fatalf("Decode read it, ToNDJSON: %v", cerr)
		}
		nd := conv.Bytes()
		h2, err := Decode(bytes.NewReader(nd), "f")
		if err != nil {
			t.Fatalf("the conversion does not decode: %v", err)
		}
		if len(h.Records) != len(h2.Records) {
			t.Fatalf("%d records, %d in the conversion", len(h.Records), len(h2.Records))
		}
		decodeBoth(t, "fuzz", nd, data)
		if back := toNDJSON(t, toBinary(t, nd)); !bytes.Equal(back, nd) {
			t.Fatalf("NDJSON → binary → NDJSON differs:\n%s", firstDiff(nd, back))
		}
	})
}
