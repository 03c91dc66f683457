package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

type probeReq struct {
	mem int
	n   int
	why string
}

// probeAll runs reqs at most cfg.Concurrency at a time.
func (s *searcher) probeAll(ctx context.Context, reqs []probeReq) error {
	sem := make(chan struct{}, s.cfg.Concurrency)
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = s.probe(ctx, r.mem, r.n, r.why)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// probe asks for up to n invocations at mem, within the budget, and
// records what comes back.
func (s *searcher) probe(ctx context.Context, mem, n int, why string) error {
	s.mu.Lock()
	n = min(n, s.cfg.MaxInvocations-s.inv)
	if s.cfg.MaxGBSeconds > 0 {
		per, cold := s.predictLocked(mem)
		if _, started := s.pts[mem]; started {
			cold = 0 // no cold start to pay for
		}
		for n > 0 && s.gbs+GBSeconds(mem, per)*float64(n)+GBSeconds(mem, cold) > s.cfg.MaxGBSeconds {
			n--
		}
	}
	if n <= 0 {
		s.budgetOut = true
		s.mu.Unlock()
		return nil
	}
	s.inv += n // reserved; corrected below
	s.mu.Unlock()

	obs, err := s.invoke(ctx, mem, n)

	s.mu.Lock()
	s.inv += len(obs) - n
	p := s.pts[mem]
	if p == nil {
		p = &pstate{mem: mem, feas: Unknown}
		s.pts[mem] = p
	}
	for _, o := range obs {
		s.gbs += o.GBSeconds()
		s.recordLocked(p, o)
	}
	s.steps = append(s.steps, Step{MemoryMB: mem, Invocations: len(obs), Why: why})
	done, total := s.inv, s.cfg.MaxInvocations
	if errors.Is(err, ErrBudget) {
		s.budgetOut = true
		err = nil
	}
	if err == nil && len(obs) == 0 {
		s.budgetOut = true // the prober made no progress: do not loop on it
	}
	retry := err == nil && p.feas == Unknown && p.timeouts == 1 && s.cfg.MaxInvocations-s.inv >= 1
	s.mu.Unlock()
	if s.cfg.Progress != nil {
		s.cfg.Progress(done, total)
	}
	if err != nil {
		return fmt.Errorf("search: probe %d MB: %w", mem, err)
	}
	if retry {
		return s.probe(ctx, mem, 1, fmt.Sprintf("confirm: %d MB timed out once; a second timeout rules it out", mem))
	}
	return nil
}

// invoke asks the prober for n runs at mem; under a GB-seconds budget one
// at a time, so the budget is checked between runs.
func (s *searcher) invoke(ctx context.Context, mem, n int) ([]Observation, error) {
	if s.cfg.MaxGBSeconds <= 0 {
		return s.pr.Probe(ctx, mem, n)
	}
	var out []Observation
	for i := 0; i < n; i++ {
		s.mu.Lock()
		spent := s.gbs
		for _, o := range out {
			spent += o.GBSeconds()
		}
		s.mu.Unlock()
		if spent >= s.cfg.MaxGBSeconds {
			break
		}
		obs, err := s.pr.Probe(ctx, mem, 1)
		out = append(out, obs...)
		if err != nil || len(obs) == 0 || obs[len(obs)-1].Outcome.Infeasible() {
			return out, err
		}
	}
	return out, nil
}

// recordLocked files one observation under its size.
func (s *searcher) recordLocked(p *pstate, o Observation) {
	switch {
	case o.Outcome == Timeout:
		// One timeout may be a slow cold start or an outlier: the size
		// is infeasible after a second, or when nothing succeeded there
		// (the search then tries once more).
		p.timeouts++
		p.failure, p.msg = o.Outcome, o.Message
		if p.timeouts >= 2 {
			p.feas = Infeasible
		}
		if o.Cold {
			p.cold = append(p.cold, o)
		} else {
			p.warm = append(p.warm, o)
		}
	case o.Outcome.Infeasible():
		p.feas, p.failure, p.msg = Infeasible, o.Outcome, o.Message
		if o.Cold {
			p.cold = append(p.cold, o)
		} else {
			p.warm = append(p.warm, o)
		}
	case o.Outcome == SystemError:
		p.errs = append(p.errs, o)
	case o.Cold:
		p.cold = append(p.cold, o)
		if p.feas == Unknown {
			p.feas = Feasible
		}
	default:
		p.warm = append(p.warm, o)
		if p.feas == Unknown {
			p.feas = Feasible
		}
	}
}

// predictLocked guesses the warm duration at mem and the extra of a cold
// start, for the GB-seconds budget.
func (s *searcher) predictLocked(mem int) (warm, cold float64) {
	for _, p := range s.pts {
		for _, o := range p.cold {
			cold = math.Max(cold, o.DurationMs)
		}
	}
	if p := s.pts[mem]; p != nil && p.sum.N > 0 {
		return p.sum.MedianMs, cold
	}
	best := 0
	for m, p := range s.pts {
		if m > mem && p.sum.N > 0 && (best == 0 || m < best) {
			best = m
		}
	}
	if best == 0 {
		return 0, cold
	}
	return math.Min(s.pts[best].sum.MedianMs*float64(best)/float64(mem), float64(s.cfg.TimeoutMs)), cold
}
