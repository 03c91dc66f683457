package search

import (
	"fmt"
	"math"
)

// kneeFit is a segmented fit of the measured medians in log scale:
//
//	t(m) = t∞·(1 − f + f·(K/m)^p) below the knee K, t∞ from K up
//
// flat at t∞ = e^a from the knee K up, slower below it. Two families are
// fitted and the better kept: f = 1, a power law m^-p below the knee (p
// free: memory pressure makes it exceed 1), and p = 1, a fixed part plus a
// part in inverse proportion to memory (f the share that scales: the I/O
// and the CPU work of an action whose CPU follows memory, which is how
// OpenWhisk shares CPU). Both have three parameters. The search uses the fit
// to pool every size on the flat part into the reference (their samples all
// measure the same time), to aim its next probe and to compare sizes for
// cost and balanced.
type kneeFit struct {
	ok      bool    // a knee is significant (else the data are flat)
	a, p, f float64 // log t∞, exponent, share of the time that scales
	knee    float64 // K (MB)
	flat    bool    // no significant slope: every size is on the flat part
	chi2    float64 // weighted SSE / σ² of the chosen model
	dfRes   int
	// plausible are the fits within the 90% profile likelihood region of
	// the best (either family), with the slope's standard error.
	plausible []kneeCand
}

// kneeCand is the fit for one knee position (and, for p = 1, one share).
type kneeCand struct {
	knee    float64
	a, p, f float64
	seP     float64
	sse     float64
	nBelow  int
}

// shape is log(t/t∞) at log distance lx = max(0, log K − log m) below the
// knee.
func shape(lx, p, f float64) float64 {
	if lx <= 0 {
		return 0
	}
	if f >= 1 {
		return p * lx
	}
	return math.Log1p(f * math.Expm1(p*lx))
}

// crossingOf is the size where t reaches (1+tol)·t∞.
func crossingOf(knee, p, f, tol float64) float64 {
	return knee * math.Pow(1+tol/math.Max(f, 1e-9), -1/math.Max(p, 0.05))
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
	cands := make([]kneeCand, 0, 1024)
	em := make([]float64, 0, n) // share's scratch
	lm := make([]float64, n)
	for i, m := range ms {
		lm[i] = math.Log(float64(m))
	}
	keep := func(c kneeCand) {
		cands = append(cands, c)
		if c.sse < best {
			best, f.a, f.p, f.f, f.knee = c.sse, c.a, c.p, c.f, c.knee
		}
	}
	// power fits the power law (f = 1) for the knee at log size lk: a
	// and p by weighted least squares.
	power := func(lk float64) {
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
		c := kneeCand{knee: math.Exp(lk), a: a, p: p, f: 1, seP: sigma * math.Sqrt(sw/det)}
		c.sse, c.nBelow = sseAt(lm, ys, ws, lk, a, p, 1)
		keep(c)
	}
	// share fits the fixed-plus-scaling family (p = 1) for the knee at lk:
	// t = c + d·K/m below the knee is linear in c and d, solved by least
	// squares weighted for log scale (1/t²); then the share f = d/(c+d)
	// and its neighbours are scored in log scale.
	share := func(lk float64) {
		var s0, s1, s2, r0, r1 float64
		below := 0
		for i := range ms {
			x := math.Exp(math.Max(0, lk-lm[i]))
			if x > 1 {
				below++
			}
			t := math.Exp(ys[i])
			v := ws[i] / (t * t)
			s0, s1, s2 = s0+v, s1+v*x, s2+v*x*x
			r0, r1 = r0+v*t, r1+v*x*t
		}
		det := s0*s2 - s1*s1
		if below == 0 || det <= 1e-18*s0*s2 {
			return
		}
		c, d := (s2*r0-s1*r1)/det, (s0*r1-s1*r0)/det
		if d <= 0 || c <= 0 {
			return // no fixed part: the power law covers it
		}
		f0 := d / (c + d)
		em = em[:0]
		for i := range ms {
			em = append(em, math.Expm1(math.Max(0, lk-lm[i])))
		}
		for _, fs := range []float64{f0, f0 - 0.1, f0 - 0.05, f0 + 0.05, f0 + 0.1} {
			if fs <= 0 || fs >= 1 {
				continue
			}
			// a is the weighted mean of y − shape; the SSE follows.
			var sr, srr float64
			for i := range ms {
				r := ys[i] - math.Log1p(fs*em[i])
				sr += ws[i] * r
				srr += ws[i] * r * r
			}
			keep(kneeCand{knee: math.Exp(lk), a: sr / sw, p: 1, f: fs, sse: math.Max(srr-sr*sr/sw, 0), nBelow: below})
		}
	}
	// The knee is a property of the action, not of the candidate sizes:
	// it is searched in log scale between the smallest and the largest
	// size measured, 3% apart, then 0.3% apart around the best.
	lo, hi := lm[0], lm[n-1]
	for lk := lo + 0.03; lk <= hi+1e-9; lk += 0.03 {
		power(lk)
		share(lk)
	}
	if !math.IsInf(best, 1) {
		c := math.Log(f.knee)
		for lk := math.Max(lo+0.003, c-0.03); lk <= math.Min(hi, c+0.03)+1e-9; lk += 0.003 {
			power(lk)
			share(lk)
		}
	}
	s2 := sigma * sigma
	// The knee costs two parameters (slope and place): it must explain
	// more than a χ² with 2 degrees of freedom would by chance (95%).
	if math.IsInf(best, 1) || sse0-best < 6*s2 {
		f = kneeFit{flat: true, a: a0, p: 0, f: 1, chi2: sse0 / s2, dfRes: n - 1}
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

// sseAt is the weighted squared error of a candidate and how many sizes
// lie below its knee.
func sseAt(lm, ys, ws []float64, lk, a, p, fs float64) (sse float64, below int) {
	for i := range lm {
		x := lk - lm[i]
		if x > 0 {
			below++
		}
		sse += ws[i] * sq(ys[i]-a-shape(x, p, fs))
	}
	return sse, below
}

// logTime is the fitted log time at m (only for a usable fit).
func (f kneeFit) logTime(m float64) float64 {
	if f.flat {
		return f.a
	}
	return f.a + shape(math.Log(f.knee/m), f.p, f.f)
}

// crossingRange is the range of crossing sizes over the plausible knees
// and slopes (±1.645 standard errors): the 90% uncertainty of the
// min-resources answer.
func (f kneeFit) crossingRange(tol float64) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, c := range f.plausible {
		for _, p := range []float64{c.p - 1.645*c.seP, c.p, c.p + 1.645*c.seP} {
			x := crossingOf(c.knee, p, c.f, tol)
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
	return crossingOf(f.knee, f.p, f.f, tol)
}

// slope is the fitted -d log t / d log m at m: p for the power law, rising
// from f at the knee towards 1 below it for the fixed-plus-scaling family.
func (f kneeFit) slope(m float64) float64 {
	lx := math.Log(f.knee / m)
	if f.flat || !f.ok || lx <= 0 {
		return 0
	}
	if f.f >= 1 {
		return f.p
	}
	xp := math.Exp(f.p * lx)
	return f.f * f.p * xp / (1 - f.f + f.f*xp)
}

// describe says how the fit falls below the knee.
func (f kneeFit) describe() string {
	if f.f >= 1 {
		return fmt.Sprintf("time ∝ memory^-%.2f", f.p)
	}
	return fmt.Sprintf("%.0f%% of the time ∝ 1/memory", 100*f.f)
}
