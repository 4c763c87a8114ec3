package checkpointstorage

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeMetadata: no input makes the reader panic, and whatever it accepts
// encodes again and decodes to the same metadata (the reader accepts only
// what the writer can write). go test runs the seeds; go test -fuzz
// FuzzDecodeMetadata ./driver/checkpointstorage/ explores.
func FuzzDecodeMetadata(f *testing.F) {
	good, err := Encode(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"ref":5`), []byte(`"ref":8`), 1))
	f.Add(bytes.Replace(good, []byte(`"inline":"YWJj"`), []byte(`"inline":"YWJ="`), 1))
	f.Add([]byte(`{"format":"ckpt-checkpoint-metadata/v1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted but does not encode: %v", err)
		}
		m2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoding changed it: %v\n%+v\n%+v", err, m, m2)
		}
	})
}
