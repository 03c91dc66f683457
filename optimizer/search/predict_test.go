package search

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFitPick: for cost and balanced, a size the knee fit says beats every
// measured one by more than half the tolerance is recommended as
// predicted when it was not measured; the alternatives stay on measured
// sizes.
func TestFitPick(t *testing.T) {
	cpu := func(m int) float64 { return 150 + 800*1024/math.Min(float64(m), 1024) }
	at := func(ms ...int) [][]Observation {
		var obs [][]Observation
		for _, m := range ms {
			obs = append(obs, sized(m, 1.3*cpu(m), cpu(m), cpu(m)))
		}
		return obs
	}
	for _, tc := range []struct {
		name      string
		o         Objective
		obs       [][]Observation
		want      int
		predicted bool
	}{
		{"balanced, the knee unmeasured: predicted", Balanced, at(640, 832, 896, 3072), 1024, true},
		{"balanced, the knee measured", Balanced, at(640, 832, 896, 1024, 3072), 1024, false},
		{"cost falls to the floor, which was measured", Cost, at(128, 640, 832, 896, 3072), 128, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := searcherFrom(tc.o, tc.obs...)
			s.grid = nil
			for m := 128; m <= 3072; m += 64 {
				s.grid = append(s.grid, m)
			}
			s.update()
			require.True(t, s.fit.ok)
			d := s.decide(tc.o)
			require.Equal(t, tc.want, d.MemoryMB, d.Why)
			require.Equal(t, tc.predicted, d.Predicted, d.Why)
			if tc.predicted {
				require.Contains(t, d.Why, "predicted by the knee fit")
				require.InDelta(t, cpu(tc.want), d.MedianMs, 0.02*cpu(tc.want))
				s.cfg.Objective = MinResources // now an alternative
				require.False(t, s.decide(tc.o).Predicted)
			}
		})
	}
}
