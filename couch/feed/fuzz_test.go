package feed

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeRow: a row of the _changes feed (continuous line or catch-up
// result) decodes to a Change, to the closing last_seq line, or to an
// error, never a panic; and a decoded change, written back as a row,
// decodes to the same change (the sequence kept as the server spelled it).
// Seeds (testdata/fuzz/FuzzDecodeRow/) are rows of the contract's sample
// feed, pouchdb-server's spelling and edge cases.
func FuzzDecodeRow(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, last, err := decodeRow(data)
		if err != nil {
			if last {
				t.Fatalf("an error and last at once")
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("decodeRow accepted input that is not valid JSON: %q", data)
		}
		if last {
			return
		}
		row := map[string]any{"seq": c.Seq, "id": c.ID, "deleted": c.Deleted}
		if c.Rev != "" {
			row["changes"] = []map[string]string{{"rev": c.Rev}}
		}
		if c.Doc != nil {
			row["doc"] = c.Doc
		}
		b, err := json.Marshal(row)
		if err != nil {
			t.Fatalf("encode change %+v: %v", c, err)
		}
		again, last, err := decodeRow(b)
		if err != nil || last {
			t.Fatalf("a change written back does not decode: %v (last %v)\n%s", err, last, b)
		}
		if again.Seq != c.Seq || again.ID != c.ID || again.Rev != c.Rev || again.Deleted != c.Deleted {
			t.Fatalf("change not stable:\nfirst:  %+v\nsecond: %+v", c, again)
		}
		if !bytes.Equal(compact(t, again.Doc), compact(t, c.Doc)) {
			t.Fatalf("document not stable:\nfirst:  %s\nsecond: %s", c.Doc, again.Doc)
		}
	})
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	if b == nil {
		return nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return out.Bytes()
}
