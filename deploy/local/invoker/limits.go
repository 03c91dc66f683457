package invoker

import (
	"encoding/json"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// namespaceLimits decodes the limits document an activation message carries
// (Identity.limits, UserLimits in OpenWhisk): nil when it carries none, or
// one that does not decode, so that the deployment's ranges apply.
func namespaceLimits(raw json.RawMessage) *entity.NamespaceLimits {
	var ns entity.NamespaceLimits
	if len(raw) == 0 || json.Unmarshal(raw, &ns) != nil {
		return nil
	}
	return &ns
}
