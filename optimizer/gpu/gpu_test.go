package gpu_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/gpu/gputest"
)

func TestAccumulator(t *testing.T) {
	a := gpu.NewAccumulator(map[uint]float64{0: 500, 1: 300})
	for i := 0; i < 10; i++ {
		a.Add(0, 500+float64(i)*100, float64(10*i)) // GPU 0 grows to +900 MB, 0..90%
		a.Add(1, 300, 0)                            // GPU 1 idle
	}
	u := a.Usage()
	require.Equal(t, 2, u.Seen)
	require.Equal(t, 1, u.GPUs)
	require.Equal(t, 900.0, u.PeakMemMB)
	require.InDelta(t, 45, u.MeanUtilPct, 1e-9)
	require.Equal(t, 80.0, u.P90UtilPct)
	require.Equal(t, 20, u.Samples)
}

func TestRecommend(t *testing.T) {
	for _, tc := range []struct {
		name          string
		u             gpu.Usage
		o             gpu.RecommendOptions
		num, mem, pct int
	}{
		{"no GPU used", gpu.Usage{Seen: 2, Samples: 40}, gpu.RecommendOptions{}, 0, 0, 0},
		{"small: 256 MB headroom wins", gpu.Usage{GPUs: 1, PeakMemMB: 700, P90UtilPct: 30, MeanUtilPct: 20}, gpu.RecommendOptions{}, 1, 1024, 35},
		{"large: 20% headroom wins", gpu.Usage{GPUs: 1, PeakMemMB: 5000, P90UtilPct: 95}, gpu.RecommendOptions{}, 1, 6144, 100},
		{"tiny utilisation is at least 1%", gpu.Usage{GPUs: 1, PeakMemMB: 64, P90UtilPct: 0}, gpu.RecommendOptions{}, 1, 512, 1},
		{"capped by the node", gpu.Usage{GPUs: 4, PeakMemMB: 1000, P90UtilPct: 50}, gpu.RecommendOptions{MaxGPUNum: 2}, 2, 1280, 55},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gpu.Recommend(tc.u, tc.o)
			require.Equal(t, tc.num, r.GPUNum)
			require.Equal(t, tc.mem, r.GPUMemorySize)
			require.Equal(t, tc.pct, r.GPUPercentage)
			require.Zero(t, r.GPUMemorySize%256)
			require.NotEmpty(t, r.Why)
		})
	}
}

func TestUnavailable(t *testing.T) {
	err := error(&gpu.UnavailableError{Reason: "libdcgm.so.4 not found"})
	msg, ok := gpu.Unavailable(err)
	require.True(t, ok)
	require.Equal(t, "GPU measurement unavailable: libdcgm.so.4 not found", msg)
	_, ok = gpu.Unavailable(errors.New("other"))
	require.False(t, ok)
}

func TestFakeSampler(t *testing.T) {
	f := &gputest.Sampler{Usage: gpu.Usage{GPUs: 1, PeakMemMB: 100}}
	s, err := f.Start(context.Background(), gpu.Target{Node: "n1"})
	require.NoError(t, err)
	require.Equal(t, 1, f.Open())
	u, err := s.Stop()
	require.NoError(t, err)
	require.Equal(t, 100.0, u.PeakMemMB)
	require.Zero(t, f.Open())
	require.Equal(t, []gpu.Target{{Node: "n1"}}, f.Targets())
}

// TestDCGMWithoutLibrary runs where no libdcgm is installed (CI, this
// machine): the sampler must fail plainly, not crash.
func TestDCGMWithoutLibrary(t *testing.T) {
	d := gpu.NewDCGM(gpu.DCGMOptions{})
	defer d.Close()
	s, err := d.Start(context.Background(), gpu.Target{})
	if err == nil {
		// A machine with DCGM: stop the session and move on.
		_, _ = s.Stop()
		t.Skip("DCGM is installed here")
	}
	msg, ok := gpu.Unavailable(err)
	require.True(t, ok, "%v", err)
	require.Contains(t, msg, "GPU measurement unavailable")
}

func TestResolveHostengine(t *testing.T) {
	two := map[string]string{"invoker0": "10.0.0.5:5555", "invoker1": "10.0.0.6:5555"}
	for _, tc := range []struct {
		name        string
		hostengines map[string]string
		node        string
		addr        string
		standalone  bool
		err         string
	}{
		{"none configured: embedded", nil, "invoker0", "", false, ""},
		{"the node's", two, "invoker1", "10.0.0.6:5555", true, ""},
		{"unknown node", two, "invoker7", "", false, "no nv-hostengine is configured for node invoker7 (--dcgm-hostengines names invoker0, invoker1)"},
		{"node unknown, several configured", two, "", "", false, "the invoker that ran the probes is unknown"},
		{"node unknown, one configured", map[string]string{"invoker0": "h:5555"}, "", "h:5555", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, standalone, err := gpu.ResolveHostengine(tc.hostengines, tc.node)
			if tc.err != "" {
				msg, ok := gpu.Unavailable(err)
				require.True(t, ok, "%v", err)
				require.Contains(t, msg, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.addr, addr)
			require.Equal(t, tc.standalone, standalone)
		})
	}
}
