package search

import (
	"math"
	"sort"
)

// Summary is the robust statistics of the warm durations at one size.
type Summary struct {
	N        int     `json:"n"`
	Outliers int     `json:"outliers,omitempty"`
	MedianMs float64 `json:"medianMs,omitempty"`
	MeanMs   float64 `json:"meanMs,omitempty"`
	MADMs    float64 `json:"madMs,omitempty"`
	// CILowMs and CIHighMs bound the median at 95%: by order statistics
	// (distribution-free) from 6 samples on, else from the pooled noise
	// estimate (log-normal approximation); CIMethod says which.
	CILowMs  float64 `json:"ciLowMs,omitempty"`
	CIHighMs float64 `json:"ciHighMs,omitempty"`
	CIMethod string  `json:"ciMethod,omitempty"`
	// CV is the coefficient of variation used for this size: the larger of
	// its own robust spread (1.4826 MAD/median) and the pooled estimate.
	CV float64 `json:"cv,omitempty"`
	// LogSE is the standard error of the log median used in comparisons.
	LogSE float64 `json:"logSE,omitempty"`
}

// Defaults of the noise model.
const (
	// priorCV is the noise assumed before data says otherwise, worth
	// priorDF degrees of freedom.
	priorCV = 0.05
	priorDF = 2.0
	// outlierK is how many robust standard deviations from the median a
	// sample must lie to be an outlier (Iglewicz and Hoaglin's 3.5).
	outlierK = 3.5
	// madScale turns a MAD into a normal standard deviation.
	madScale = 1.4826
)

// median of xs (not modified).
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mad is the median absolute deviation of xs from m.
func mad(xs []float64, m float64) float64 {
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return median(d)
}

// seFactor is the standard error of the median of n normal samples in
// units of their standard deviation (exact for small n, 1.2533/√n beyond).
func seFactor(n int) float64 {
	small := []float64{0, 1, 0.7071, 0.6698, 0.5460, 0.5356, 0.4633, 0.4587}
	if n <= 0 {
		return math.Inf(1)
	}
	if n < len(small) {
		return small[n]
	}
	return math.Min(small[len(small)-1], 1.2533/math.Sqrt(float64(n)))
}

// orderStatCI returns the distribution-free confidence interval of the
// median of sorted samples, [x(j), x(n+1-j)] with the largest j whose
// coverage 1-2·P(Binomial(n,½) < j) is at least conf; ok is false when even
// [min, max] covers less.
func orderStatCI(sorted []float64, conf float64) (lo, hi float64, ok bool) {
	n := len(sorted)
	if n == 0 {
		return 0, 0, false
	}
	best := 0
	cum := 0.0 // P(B <= j-1)
	for j := 1; j <= n/2; j++ {
		cum += binomHalf(n, j-1)
		if 1-2*cum >= conf {
			best = j
		} else {
			break
		}
	}
	if best == 0 {
		return 0, 0, false
	}
	return sorted[best-1], sorted[n-best], true
}

// binomHalf is P(Binomial(n, ½) = k).
func binomHalf(n, k int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) - float64(n)*math.Ln2)
}

// summarize computes the statistics of warm durations xs given the pooled
// noise sigma (log scale). It returns the summary and the kept samples.
func summarize(xs []float64, pooled float64) (Summary, []float64) {
	var s Summary
	if len(xs) == 0 {
		return s, nil
	}
	m0 := median(xs)
	logs := make([]float64, len(xs))
	for i, x := range xs {
		logs[i] = math.Log(math.Max(x, 0.5))
	}
	lm := math.Log(math.Max(m0, 0.5))
	kept := xs
	if len(xs) >= 3 {
		scale := math.Max(madScale*mad(logs, lm), math.Max(pooled, 0.01))
		kept = nil
		for i, x := range xs {
			if math.Abs(logs[i]-lm) > outlierK*scale {
				s.Outliers++
				continue
			}
			kept = append(kept, x)
		}
	}
	n := len(kept)
	s.N = n
	s.MedianMs = median(kept)
	local := localSigma(kept)
	if n == 2 && local > 3*math.Max(pooled, 0.01) {
		// Two samples far apart: one is most likely slowed (outliers of
		// durations are slow ones). Trust the faster, corrected by the
		// expected minimum of two normal samples (0.564 σ).
		s.MedianMs = math.Min(kept[0], kept[1]) * math.Exp(0.564*pooled)
		s.Outliers, local = 1, pooled
	}
	sum := 0.0
	for _, x := range kept {
		sum += x
	}
	s.MeanMs = sum / float64(n)
	s.MADMs = mad(kept, s.MedianMs)
	sigma := math.Max(local, pooled)
	// A duration is reported in whole milliseconds: add the rounding noise.
	q := 0.2887 / math.Max(s.MedianMs, 0.5)
	sigma = math.Sqrt(sigma*sigma + q*q)
	s.CV = sigma
	s.LogSE = sigma * seFactor(n)
	sorted := append([]float64(nil), kept...)
	sort.Float64s(sorted)
	if lo, hi, ok := orderStatCI(sorted, 0.95); ok {
		s.CILowMs, s.CIHighMs, s.CIMethod = lo, hi, "order-statistic"
	} else {
		lmk := math.Log(math.Max(s.MedianMs, 0.5))
		s.CILowMs, s.CIHighMs = math.Exp(lmk-1.96*s.LogSE), math.Exp(lmk+1.96*s.LogSE)
		s.CIMethod = "log-normal, pooled noise"
	}
	return s, kept
}

// localSigma is the robust spread of xs in log scale: 1.4826 MAD from three
// samples on, the standard deviation of two, 0 for one.
func localSigma(xs []float64) float64 {
	switch len(xs) {
	case 0, 1:
		return 0
	case 2:
		return math.Abs(math.Log(math.Max(xs[0], 0.5))-math.Log(math.Max(xs[1], 0.5))) / math.Sqrt2
	}
	logs := make([]float64, len(xs))
	for i, x := range xs {
		logs[i] = math.Log(math.Max(x, 0.5))
	}
	return madScale * mad(logs, median(logs))
}

// pooledSigma estimates the noise (log-scale standard deviation) from the
// kept warm samples of every size, shrunk towards priorCV. A size holding
// a sample far from the others (a pair more than 4√2 standard deviations
// apart, or a sample more than 4 from its size's median: two slowed runs
// of three, say) holds an outlier nobody can tell apart yet (more samples
// will): it is left out, the estimate iterated, so bad runs cannot
// inflate the noise of all.
func pooledSigma(groups [][]float64) float64 {
	type grp struct {
		res    []float64
		spread float64 // the largest residual, in standard deviations of one sample
	}
	var gs []grp
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		logs := make([]float64, len(g))
		for i, x := range g {
			logs[i] = math.Log(math.Max(x, 0.5))
		}
		var c float64
		if len(g) == 2 {
			c = (logs[0] + logs[1]) / 2
		} else {
			c = median(logs)
		}
		var gr grp
		for _, l := range logs {
			gr.res = append(gr.res, l-c)
			gr.spread = math.Max(gr.spread, math.Abs(l-c))
		}
		if len(g) == 2 {
			gr.spread *= math.Sqrt2 // |a−b|/√2: the pair's own standard deviation
		}
		gs = append(gs, gr)
	}
	sigma := priorCV
	for iter := 0; iter < 4; iter++ {
		ss, df := priorDF*priorCV*priorCV, priorDF
		for _, g := range gs {
			if g.spread > 4*sigma {
				continue
			}
			for _, r := range g.res {
				ss += r * r
			}
			df += float64(len(g.res) - 1)
		}
		next := math.Sqrt(ss / df)
		if math.Abs(next-sigma) < 1e-4 {
			return next
		}
		sigma = next
	}
	return sigma
}

// isotonicDecreasing fits a non-increasing sequence to ys (in the given
// order) with weights ws by pool-adjacent-violators and returns the fitted
// values and the total weight of each value's block.
func isotonicDecreasing(ys, ws []float64) (fit, blockW []float64) {
	type block struct {
		sum, w float64
		n      int
	}
	var bs []block
	for i := range ys {
		bs = append(bs, block{sum: ys[i] * ws[i], w: ws[i], n: 1})
		for len(bs) > 1 {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			if a.sum/a.w >= b.sum/b.w {
				break
			}
			bs = bs[:len(bs)-2]
			bs = append(bs, block{sum: a.sum + b.sum, w: a.w + b.w, n: a.n + b.n})
		}
	}
	for _, b := range bs {
		for k := 0; k < b.n; k++ {
			fit = append(fit, b.sum/b.w)
			blockW = append(blockW, b.w)
		}
	}
	return fit, blockW
}
