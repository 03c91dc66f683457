package invoker

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// TestNamespaceLimits: the limits document an activation message carries
// moves the ranges; a missing or undecodable one leaves the deployment's.
func TestNamespaceLimits(t *testing.T) {
	t.Parallel()
	big := entity.DefaultLimits()
	big.Memory = 1024
	cases := []struct {
		name string
		raw  string
		want string // the check of a 1024 MB action; "" = allowed
	}{
		{"no document", "", "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"namespace allows it", `{"maxActionMemory":1024}`, ""},
		{"undecodable document", `[1]`, "memory size 1024 MB exceeds allowed threshold of 512 MB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			err := o.Limits.WithDefaults().For(namespaceLimits(json.RawMessage(tc.raw))).Check(big)
			got := ""
			if err != nil {
				got = err.Error()
			}
			require.Equal(t, tc.want, got)
		})
	}
}
