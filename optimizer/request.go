package optimizer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Modes of a run.
const (
	// ModeActive probes the action (and shows the passive view beside it
	// when real traffic is enough).
	ModeActive = "active"
	// ModePassive only reads real traffic: no invocation at all.
	ModePassive = "passive"
	// ModeBoth probes and always reports the passive view (saying why it
	// has no recommendation when traffic is short).
	ModeBoth = "both"
)

// Limits of a request.
const (
	DefaultMaxInvocations = 15
	MaxMaxInvocations     = 500
	maxPayloads           = 20
	maxPayloadBytes       = 1 << 20
)

// Payload is one input of the action and its weight.
type Payload struct {
	Body   json.RawMessage `json:"payload"`
	Weight float64         `json:"weight,omitempty"`
}

// Payloads accepts a list of JSON objects, each either the parameters
// themselves ({"n": 3}, weight 1) or the weighted form {"payload": {...},
// "weight": 2} (an object whose only keys are payload and weight).
type Payloads []Payload

// UnmarshalJSON reads either form.
func (p *Payloads) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return fmt.Errorf("payloads must be a list of JSON objects: %w", err)
	}
	out := make(Payloads, 0, len(raws))
	for i, raw := range raws {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return fmt.Errorf("payloads[%d] must be a JSON object", i)
		}
		_, hasPayload := fields["payload"]
		_, hasWeight := fields["weight"]
		if hasPayload && len(fields) == 1+btoi(hasWeight) {
			var w Payload
			if err := json.Unmarshal(raw, &w); err != nil {
				return fmt.Errorf("payloads[%d]: %w", i, err)
			}
			if w.Weight == 0 && !hasWeight {
				w.Weight = 1
			}
			out = append(out, w)
			continue
		}
		out = append(out, Payload{Body: raw, Weight: 1})
	}
	*p = out
	return nil
}

// MarshalJSON writes what UnmarshalJSON reads back as p: a payload of
// weight 1 as the parameters themselves, unless they would read as the
// weighted form; any other in the weighted form.
func (p Payloads) MarshalJSON() ([]byte, error) {
	out := make([]json.RawMessage, 0, len(p))
	for i, w := range p {
		if w.Weight == 1 && !looksWeighted(w.Body) {
			out = append(out, w.Body)
			continue
		}
		b, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("payloads[%d]: %w", i, err)
		}
		out = append(out, b)
	}
	return json.Marshal(out)
}

// looksWeighted reports whether body would read as the weighted form.
func looksWeighted(body json.RawMessage) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return false
	}
	_, hasPayload := fields["payload"]
	_, hasWeight := fields["weight"]
	return hasPayload && len(fields) == 1+btoi(hasWeight)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Request is the body of POST …/optimizations (SPEC.md section 2), plus
// mode and maxGBSeconds.
type Request struct {
	Payloads         Payloads `json:"payloads"`
	Objective        string   `json:"objective,omitempty"`
	Tolerance        *float64 `json:"tolerance,omitempty"`
	MemoryCandidates []int    `json:"memoryCandidates,omitempty"`
	MaxInvocations   int      `json:"maxInvocations,omitempty"`
	MaxGBSeconds     float64  `json:"maxGBSeconds,omitempty"`
	GPU              bool     `json:"gpu,omitempty"`
	Apply            bool     `json:"apply,omitempty"`
	Mode             string   `json:"mode,omitempty"`
}

// Stored is the request as the run document keeps it: payload bodies are
// left out (they may hold secrets), their count and weights kept.
type Stored struct {
	Payloads         int       `json:"payloads"`
	Weights          []float64 `json:"weights,omitempty"`
	Objective        string    `json:"objective"`
	Tolerance        float64   `json:"tolerance"`
	MemoryCandidates []int     `json:"memoryCandidates"`
	MaxInvocations   int       `json:"maxInvocations"`
	MaxGBSeconds     float64   `json:"maxGBSeconds,omitempty"`
	GPU              bool      `json:"gpu"`
	Apply            bool      `json:"apply"`
	Mode             string    `json:"mode"`
}

// settled is a validated request.
type settled struct {
	Request
	objective  search.Objective
	tolerance  float64
	candidates []int
	payloads   []probe.Payload
}

func (r settled) stored() Stored {
	s := Stored{Payloads: len(r.payloads), Objective: string(r.objective), Tolerance: r.tolerance,
		MemoryCandidates: r.candidates, MaxInvocations: r.MaxInvocations, MaxGBSeconds: r.MaxGBSeconds,
		GPU: r.GPU, Apply: r.Apply, Mode: r.Mode}
	for _, p := range r.payloads {
		s.Weights = append(s.Weights, p.Weight)
	}
	return s
}

// validate checks req against the deployment's bounds for namespace ns and
// fills in the defaults: the candidates are the multiples of 64 MB within
// the bounds, and a candidate asked for outside them is refused naming the
// bound and where it comes from.
func validate(ctx context.Context, ns string, req Request, d Deployment) (settled, error) {
	s := settled{Request: req}
	if s.Mode == "" {
		s.Mode = ModeActive
	}
	if s.Mode != ModeActive && s.Mode != ModePassive && s.Mode != ModeBoth {
		return s, invalidField("mode", "%q must be active, passive or both", s.Mode)
	}
	s.objective = search.MinResources
	if req.Objective != "" {
		o, ok := search.ParseObjective(req.Objective)
		if !ok {
			return s, invalidField("objective", "%q must be min-resources (or its other name duration), cost or balanced", req.Objective)
		}
		s.objective = o
	}
	s.tolerance = 0.05
	if t := req.Tolerance; t != nil {
		if *t <= 0 || *t > 1 {
			return s, invalidField("tolerance", "%g must be above 0 and at most 1 (a fraction: 0.05 is 5%%)", *t)
		}
		s.tolerance = *t
	}
	if s.MaxInvocations == 0 {
		s.MaxInvocations = DefaultMaxInvocations
	}
	if s.Mode != ModePassive && (s.MaxInvocations < 3 || s.MaxInvocations > MaxMaxInvocations) {
		return s, invalidField("maxInvocations", "%d must be between 3 and %d", s.MaxInvocations, MaxMaxInvocations)
	}
	if s.MaxGBSeconds < 0 {
		return s, invalidField("maxGBSeconds", "%g must not be negative", s.MaxGBSeconds)
	}
	if len(req.Payloads) > maxPayloads {
		return s, invalid("%d payloads: at most %d", len(req.Payloads), maxPayloads)
	}
	for i, p := range req.Payloads {
		body := bytes.TrimSpace(p.Body)
		if len(body) == 0 || body[0] != '{' {
			return s, invalidField(fmt.Sprintf("payloads[%d]", i), "must be a JSON object (the action's parameters)")
		}
		if len(body) > maxPayloadBytes {
			return s, invalidField(fmt.Sprintf("payloads[%d]", i), "is %d bytes: at most %d", len(body), maxPayloadBytes)
		}
		if p.Weight <= 0 {
			return s, invalidField(fmt.Sprintf("payloads[%d]", i), "has weight %g: weights must be positive", p.Weight)
		}
		s.payloads = append(s.payloads, probe.Payload{Body: body, Weight: p.Weight})
	}
	if len(s.payloads) == 0 {
		s.payloads = []probe.Payload{{Body: json.RawMessage(`{}`), Weight: 1}}
	}
	b, err := d.MemoryBounds(ctx, ns)
	if err != nil {
		return s, fmt.Errorf("optimizer: deployment limits: %w", err)
	}
	lo, hi := max(b.MinMB, 64), b.MaxMB
	if hi == 0 {
		return s, invalid("the memory range cannot be set: MAX_MEMORY is unknown (no invoker health ping seen and none configured)")
	}
	if len(req.MemoryCandidates) == 0 {
		for m := (lo + 63) / 64 * 64; m <= hi; m += 64 {
			s.candidates = append(s.candidates, m)
		}
	} else {
		for _, m := range req.MemoryCandidates {
			if m%64 != 0 || m < lo || m > hi {
				return s, &requestError{field: "memoryCandidates", kind: ErrInvalid, msg: fmt.Sprintf(
					"memoryCandidates: %d MB must be a multiple of 64 MB between %d MB (%s) and %d MB (%s)",
					m, lo, orDefault(b.MinFrom, "the smallest action memory"), hi, orDefault(b.MaxFrom, "MAX_MEMORY"))}
			}
			s.candidates = append(s.candidates, m)
		}
		sort.Ints(s.candidates)
		s.candidates = dedupe(s.candidates)
	}
	if len(s.candidates) == 0 {
		return s, invalid("no memory size between %d and %d MB", lo, hi)
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func dedupe(xs []int) []int {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
