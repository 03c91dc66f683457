package search

import "math"

// kneeFit is a segmented fit of the measured medians in log-log scale:
//
//	log t(m) = a + p·max(0, log K − log m)
//
// flat (at t∞ = e^a) from the knee K up, falling as memory^-p below it.
// It is how OpenWhisk actions behave when CPU follows memory: CPU-bound
// work speeds up until it has the cores it can use, I/O-bound work is flat
// everywhere, memory pressure makes p exceed 1. The search uses the fit to
// pool every size on the flat part into the reference (their samples all
// measure the same time) and to aim its next probe.
type kneeFit struct {
	ok    bool    // a knee is significant (else the data are flat)
	a, p  float64 // log t∞, slope
	knee  float64 // K (MB)
	flat  bool    // no significant slope: every size is on the flat part
	chi2  float64 // weighted SSE / σ² of the chosen model
	dfRes int
	// plausible are the knees whose fit is within the 90% profile
	// likelihood region of the best, with their slopes.
	plausible []kneeCand
}

// kneeCand is the fit for one knee position.
type kneeCand struct {
	knee   float64
	a, p   float64
	seP    float64
	sse    float64
	nBelow int
}

// fitKnee fits the knee model to sizes ms (ascending) with log medians ys
// and weights ws (sample counts), noise sigma.
// It needs three sizes; with fewer it reports neither ok nor flat.
func fitKnee(ms []int, ys, ws []float64, sigma float64) kneeFit {
	var f kneeFit
	n := len(ms)
	if n < 3 {
		return f
	}
	sw, sy := 0.0, 0.0
	for i := range ms {
		sw += ws[i]
		sy += ws[i] * ys[i]
	}
	a0 := sy / sw
	sse0 := 0.0
	for i := range ms {
		sse0 += ws[i] * sq(ys[i]-a0)
	}
	best := math.Inf(1)
	var cands []kneeCand
	lm := make([]float64, n)
	for i, m := range ms {
		lm[i] = math.Log(float64(m))
	}
	// evaluate fits the slope and level for the knee at log size lk.
	evaluate := func(lk float64) {
		var sx, sxx, sxy float64
		for i := range ms {
			x := lk - lm[i]
			if x <= 0 {
				continue
			}
			sx += ws[i] * x
			sxx += ws[i] * x * x
			sxy += ws[i] * x * ys[i]
		}
		det := sw*sxx - sx*sx
		if det <= 1e-12 {
			return
		}
		p := (sw*sxy - sx*sy) / det
		if p <= 0 {
			return
		}
		a := (sy - p*sx) / sw
		sse, below := 0.0, 0
		for i := range ms {
			x := lk - lm[i]
			if x > 0 {
				below++
			} else {
				x = 0
			}
			sse += ws[i] * sq(ys[i]-a-p*x)
		}
		k := math.Exp(lk)
		cands = append(cands, kneeCand{knee: k, a: a, p: p, seP: sigma * math.Sqrt(sw/det), sse: sse, nBelow: below})
		if sse < best {
			best, f.a, f.p, f.knee = sse, a, p, k
		}
	}
	// The knee is a property of the action, not of the candidate sizes:
	// it is searched in log scale between the smallest and the largest
	// size measured, 3% apart, then 0.3% apart around the best.
	lo, hi := lm[0], lm[n-1]
	for lk := lo + 0.03; lk <= hi+1e-9; lk += 0.03 {
		evaluate(lk)
	}
	if !math.IsInf(best, 1) {
		c := math.Log(f.knee)
		for lk := math.Max(lo+0.003, c-0.03); lk <= math.Min(hi, c+0.03)+1e-9; lk += 0.003 {
			evaluate(lk)
		}
	}
	s2 := sigma * sigma
	// The knee costs two parameters (slope and place): it must explain
	// more than a χ² with 2 degrees of freedom would by chance (95%).
	if math.IsInf(best, 1) || sse0-best < 6*s2 {
		f = kneeFit{flat: true, a: a0, chi2: sse0 / s2, dfRes: n - 1}
		return f
	}
	// The slope needs two sizes below the knee; with one, any knee between
	// it and the flat sizes fits exactly and the place means nothing.
	below := 0
	for _, m := range ms {
		if float64(m) < f.knee {
			below++
		}
	}
	if below < 2 {
		return kneeFit{}
	}
	f.ok, f.chi2, f.dfRes = true, best/s2, n-3
	for _, c := range cands {
		if c.sse <= best+2.71*s2 && c.nBelow >= 2 {
			f.plausible = append(f.plausible, c)
		}
	}
	return f
}

// crossingRange is the range of crossing sizes over the plausible knees
// and slopes (±1.645 standard errors): the 90% uncertainty of the
// min-resources answer.
func (f kneeFit) crossingRange(tol float64) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, c := range f.plausible {
		for _, p := range []float64{c.p - 1.645*c.seP, c.p, c.p + 1.645*c.seP} {
			x := c.knee * math.Pow(1+tol, -1/math.Max(p, 0.05))
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if hi == 0 {
		x := f.crossing(tol)
		return x, x
	}
	return lo, hi
}

// misfit reports whether the residuals are too large for the noise: the
// action does not follow the model, so it must not be used.
func (f kneeFit) misfit() bool {
	df := float64(max(f.dfRes, 1))
	return f.chi2 > df+3*math.Sqrt(2*df)+3
}

// crossing is the size where the fitted time reaches (1+tol)·t∞.
func (f kneeFit) crossing(tol float64) float64 {
	return f.knee * math.Pow(1+tol, -1/f.p)
}
