package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProfiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		kinds            int               // runtimes in the manifest
		defaults         map[string]string // family → default kind
		offered, missing []string
		shares, pings    bool
		events           bool
		guestRaised      bool
		sharedConc       bool
	}{
		{name: Default, kinds: 2, defaults: map[string]string{"nodejs": "nodejs:20", "python": "python:3"},
			offered: []string{"nodejs:20", "python:3"}, missing: []string{"java:8"},
			pings: true, events: true, guestRaised: true},
		// openwhisk-deploy-kube 108f327 helm/openwhisk/runtimes.json
		{name: Helm, kinds: 17, defaults: map[string]string{"nodejs": "nodejs:14", "python": "python:3", "java": "java:8",
			"php": "php:7.4", "go": "go:1.17", "ruby": "ruby:2.5", "swift": "swift:4.2"},
			offered: []string{"nodejs:16", "php:8.0", "dotnet:3.1", "ballerina:0.990"}, missing: []string{"nodejs:20", "python:3.10"},
			shares: true, pings: true},
		// openwhisk 1fae641a2 ansible/files/runtimes.json
		{name: Scheduler, kinds: 13, defaults: map[string]string{"nodejs": "nodejs:20", "python": "python:3.10", "go": "go:1.20",
			"php": "php:8.1", "java": "java:8"},
			offered: []string{"nodejs:18", "python:3.11", "swift:5.7", "rust:1.34"}, missing: []string{"python:3", "nodejs:14"},
			shares: true, sharedConc: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Get(tc.name)
			require.NoError(t, err)
			require.Equal(t, tc.name, p.Name)
			require.Len(t, p.Runtimes, tc.kinds)
			defaults := map[string]string{}
			for _, r := range p.Runtimes {
				if r.Default {
					fam, _, _ := strings.Cut(r.Kind, ":")
					require.NotContains(t, defaults, fam, "one default per family")
					defaults[fam] = r.Kind
				}
				require.NotEmpty(t, r.Image)
			}
			for fam, k := range tc.defaults {
				require.Equal(t, k, defaults[fam], "default of %s", fam)
			}
			kinds := p.Kinds()
			for _, k := range tc.offered {
				require.Contains(t, kinds, k)
			}
			for _, k := range tc.missing {
				require.NotContains(t, kinds, k)
			}
			// SPEC.md section 5: the same limits and throttles everywhere.
			l := p.Limits
			require.Equal(t, [3]int{128, 256, 512}, [3]int{l.MinMemoryMB, l.StdMemoryMB, l.MaxMemoryMB})
			require.Equal(t, [3]int{60, 30, 60}, [3]int{l.InvocationsPerMinute, l.ConcurrentInvocations, l.FiresPerMinute})
			require.Equal(t, 2048, p.UserMemoryMB)
			require.Equal(t, tc.shares, p.CPUShares)
			require.Equal(t, tc.pings, p.HealthPings)
			require.Equal(t, tc.events, p.UserEvents)
			require.Equal(t, tc.sharedConc, l.SharedConcurrency)
			if tc.guestRaised {
				require.Equal(t, &GuestThrottles{InvocationsPerMinute: 100000, ConcurrentInvocations: 1000}, p.Guest)
			} else {
				require.Nil(t, p.Guest, "the guest is not raised")
			}
		})
	}
}

func TestGetUnknown(t *testing.T) {
	t.Parallel()
	p, err := Get("")
	require.NoError(t, err)
	require.Equal(t, Default, p.Name)
	_, err = Get("kube")
	require.EqualError(t, err, `unknown profile "kube" (want one of default, helm, scheduler)`)
}

func TestParseRuntimes(t *testing.T) {
	t.Parallel()
	rts, err := ParseRuntimes([]byte(`{"runtimes":{"python":[{"kind":"python:3","default":true,"image":{"prefix":"openwhisk","name":"py","tag":"1.0"}}],
		"java":[{"kind":"java:8","default":true,"image":{"name":"j"},"requireMain":true,"deprecated":true}]},"blackboxes":[{"name":"x"}]}`))
	require.NoError(t, err)
	require.Len(t, rts, 2)
	require.Equal(t, "java:8", rts[0].Kind, "families in name order")
	require.Equal(t, "j", rts[0].Image)
	require.True(t, rts[0].RequireMain)
	require.True(t, rts[0].Deprecated)
	require.Equal(t, "openwhisk/py:1.0", rts[1].Image)
	_, err = ParseRuntimes([]byte(`{"runtimes":{}}`))
	require.ErrorContains(t, err, "no runtime")
	_, err = ParseRuntimes([]byte(`[`))
	require.Error(t, err)
}
