package entity

import (
	"bytes"
	"encoding/json"
)

// KeyValue is one parameter or annotation.
type KeyValue struct {
	Key        string          `json:"key"`
	Value      json.RawMessage `json:"value"`
	Init       bool            `json:"init,omitempty"`
	Encryption string          `json:"encryption,omitempty"`
}

// KeyValues is OpenWhisk's Parameters type: an ordered list of KeyValue.
// It always encodes as a JSON array, never null.
type KeyValues []KeyValue

// MarshalJSON writes [] for an empty list.
func (kv KeyValues) MarshalJSON() ([]byte, error) {
	if kv == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]KeyValue(kv))
}

// Get returns the raw value of key.
func (kv KeyValues) Get(key string) (json.RawMessage, bool) {
	for _, p := range kv {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// String returns the value of key when it is a JSON string.
func (kv KeyValues) String(key string) (string, bool) { return Value[string](kv, key) }

// Value decodes the value of key into a T: false (and T's zero) when key
// is absent or its value is no T (Value[int64] of 1.5 is false).
func Value[T any](kv KeyValues, key string) (T, bool) {
	var v T
	raw, ok := kv.Get(key)
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

// Bool reports whether key is present with the JSON value true.
func (kv KeyValues) Bool(key string) bool {
	raw, ok := kv.Get(key)
	return ok && bytes.Equal(bytes.TrimSpace(raw), []byte("true"))
}

// With returns a copy with key set to value (replacing an existing entry in
// place, or appending).
func (kv KeyValues) With(key string, value any) KeyValues {
	raw, err := json.Marshal(value)
	if err != nil {
		raw = []byte("null")
	}
	out := make(KeyValues, 0, len(kv)+1)
	found := false
	for _, p := range kv {
		if p.Key == key {
			p.Value = raw
			found = true
		}
		out = append(out, p)
	}
	if !found {
		out = append(out, KeyValue{Key: key, Value: raw})
	}
	return out
}

// Without returns a copy without the given keys.
func (kv KeyValues) Without(keys ...string) KeyValues {
	out := make(KeyValues, 0, len(kv))
next:
	for _, p := range kv {
		for _, k := range keys {
			if p.Key == k {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// Merge returns kv overridden by over, key by key, keeping kv's order and
// appending new keys (OpenWhisk's Parameters ++ semantics).
func (kv KeyValues) Merge(over KeyValues) KeyValues {
	out := append(KeyValues{}, kv...)
	for _, p := range over {
		replaced := false
		for i := range out {
			if out[i].Key == p.Key {
				out[i] = p
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, p)
		}
	}
	return out
}

// Object renders the list as a JSON object {key: value}.
func (kv KeyValues) Object() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range kv {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		b.Write(k)
		b.WriteByte(':')
		if len(p.Value) == 0 {
			b.WriteString("null")
		} else {
			b.Write(p.Value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}
