package stackenv

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// ReadEndpoints parses a stack's endpoints.json (a child-process stack's,
// or a running `make run`'s for a load program); a missing or half-written
// file is an error (the stack writes it atomically, so half-written means
// not yet).
func ReadEndpoints(path string) (stack.Endpoints, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stack.Endpoints{}, err
	}
	var e stack.Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return stack.Endpoints{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if e.APIHost == "" || e.Gateway == "" || e.Admin == "" || e.Auth == "" {
		return stack.Endpoints{}, fmt.Errorf("%s lacks apihost, gateway, admin or auth", path)
	}
	return e, nil
}
