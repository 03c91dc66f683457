package deployment

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// StubKind is the runtime kind of the stubs of functions whose own kind is
// neither nodejs nor python: the configured kind (Options.StubKind) when
// the controller offers it; else the controller's default nodejs kind; else
// any nodejs kind it offers; else its default python kind, else any python
// kind. A kind the controller does not offer would make the stub unreadable
// (OpenWhisk's ExecManifest: "Only actions with runtime families / kinds
// defined here can be created / read / updated / deleted / invoked",
// ansible/files/runtimes.json), turning a refusal into 500s. When the
// controller cannot be reached, the kinds it last offered are used.
func (i *Info) StubKind(ctx context.Context) (string, error) {
	root, err := i.Root(ctx)
	if err != nil {
		i.mu.Lock()
		known := !i.fetched.IsZero()
		root = i.root
		i.mu.Unlock()
		if !known {
			return "", err
		}
	}
	return pickStubKind(root, i.o.StubKind)
}

// CheckStubKind reports whether the configured stub kind is one the
// controller offers and can carry a stub (nodejs or python); fnmgr checks it
// at start.
func (i *Info) CheckStubKind(ctx context.Context) error {
	root, err := i.Root(ctx)
	if err != nil {
		return err
	}
	_, err = pickStubKind(root, i.o.StubKind)
	return err
}

func pickStubKind(root entity.RootInfo, override string) (string, error) {
	var offered []string
	for _, family := range root.Runtimes {
		for _, r := range family {
			offered = append(offered, r.Kind)
		}
	}
	sort.Strings(offered)
	if override != "" {
		if f := entity.Family(override); f != "nodejs" && f != "python" {
			return "", fmt.Errorf("deployment: stub kind %s (--stub-kind, FNMGR_STUB_KIND) cannot carry a stub: give a nodejs or python kind", override)
		}
		for _, k := range offered {
			if k == override {
				return k, nil
			}
		}
		return "", fmt.Errorf("deployment: stub kind %s (--stub-kind, FNMGR_STUB_KIND) is not a kind the controller offers (GET /: %s)", override, strings.Join(offered, ", "))
	}
	for _, family := range []string{"nodejs", "python"} {
		rs := append([]entity.RuntimeInfo(nil), root.Runtimes[family]...)
		// The default first, then the newest kinds, deprecated last.
		sort.SliceStable(rs, func(a, b int) bool {
			if rs[a].Default != rs[b].Default {
				return rs[a].Default
			}
			if rs[a].Deprecated != rs[b].Deprecated {
				return !rs[a].Deprecated
			}
			return rs[a].Kind > rs[b].Kind
		})
		for _, r := range rs {
			if entity.Family(r.Kind) == family {
				return r.Kind, nil
			}
		}
	}
	return "", fmt.Errorf("deployment: the controller offers no nodejs or python kind for stubs (GET /: %s); set --stub-kind (FNMGR_STUB_KIND)", strings.Join(offered, ", "))
}
