package optimizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer/probe"
)

// Policy says which new functions are optimized without being asked.
type Policy string

// Policies.
const (
	PolicyOff       Policy = "off"
	PolicyNew       Policy = "new"       // every new action
	PolicyAnnotated Policy = "annotated" // actions annotated fnmgr-optimize
)

// Valid reports whether p is known.
func (p Policy) Valid() bool { return p == PolicyOff || p == PolicyNew || p == PolicyAnnotated }

// AnnotationOptimize on an action asks for its optimization: true (the
// policy's request), false (never, even under PolicyNew) or a request
// object ({"objective": "cost", "payloads": [...], "apply": true}) laid
// over the policy's request.
const AnnotationOptimize = "fnmgr-optimize"

// managedName reports whether name is one of fnmgr's copies of a function:
// "hello@1", "pkg/hello@prod", "hello@fnmgr-…" (a suffix after the last
// '@', as plugin/registry.SplitManaged reads it).
func managedName(name string) bool {
	i := strings.LastIndexByte(name, '@')
	return i > 0 && i < len(name)-1
}

// OnNewFunction is the change feed's hook for an action seen for the first
// time: under the policy it starts an optimization and returns its id (""
// when none is due). Copies fnmgr makes itself (name@N, name@alias, probe
// copies) are never optimized.
func (s *Service) OnNewFunction(ctx context.Context, ns, name string, annotations entity.KeyValues) (string, error) {
	if managedName(name) || probe.IsProbeName(name) {
		return "", nil
	}
	raw, annotated := annotations.Get(AnnotationOptimize)
	raw = bytes.TrimSpace(raw)
	if annotated && bytes.Equal(raw, []byte("false")) {
		return "", nil
	}
	switch s.o.Policy {
	case PolicyOff:
		return "", nil
	case PolicyAnnotated:
		if !annotated {
			return "", nil
		}
	}
	req := s.o.PolicyRequest
	if annotated && len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &req); err != nil {
			return "", invalid("annotation %s of %s/%s is not a request: %v", AnnotationOptimize, ns, name, err)
		}
	}
	id, err := s.Start(ctx, ns, name, req, "policy")
	if errors.Is(err, ErrInvalid) && !annotated {
		return "", nil // not optimizable (a sequence, say): nothing to do unless asked for
	}
	return id, err
}
