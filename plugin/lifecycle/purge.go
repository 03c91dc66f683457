package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
)

// purge deletes a retired function's OpenWhisk actions (its own, its
// versions and aliases), its revisions and versions in the registry and
// the artifacts no other function uses; the function document and its
// history stay. Every step is idempotent, so a purge cut short is run again.
func (c *Controller) purge(ctx context.Context, f registry.Function) error {
	docNS, base := registry.ActionPath(f.Namespace, f.Name)
	ids := []string{registry.DocID(f.Namespace, f.Name), docNS + "/" + base + "@" + probeSuffix}
	for _, v := range f.Versions {
		ids = append(ids, docNS+"/"+base+"@"+strconv.Itoa(v.Version))
	}
	for alias := range f.Aliases {
		ids = append(ids, docNS+"/"+base+"@"+alias)
	}
	for _, id := range ids {
		if err := c.ver.DeleteAction(ctx, id); err != nil {
			return fmt.Errorf("lifecycle: purge %s: %w", f.FQN(), err)
		}
	}
	digests := map[string]storage.Ref{}
	revs, err := c.reg.Revisions(ctx, f.Namespace, f.Name, 0, 0)
	if err != nil {
		return err
	}
	for _, r := range revs {
		if d := r.Snapshot.Exec.CodeDigest; d != "" {
			digests[d] = storage.Ref{Account: f.Namespace, Function: f.Name}
		}
		if err := c.reg.DeleteDoc(ctx, r.ID, r.Rev); err != nil && !errors.Is(err, registry.ErrNotFound) {
			return err
		}
	}
	vers, err := c.reg.Versions(ctx, f.Namespace, f.Name)
	if err != nil {
		return err
	}
	for _, v := range vers {
		if d := v.Snapshot.Exec.CodeDigest; d != "" {
			digests[d] = storage.Ref{Account: f.Namespace, Function: f.Name}
		}
		if err := c.reg.DeleteDoc(ctx, v.ID, v.Rev); err != nil && !errors.Is(err, registry.ErrNotFound) {
			return err
		}
	}
	if len(digests) > 0 {
		used, err := c.reg.Digests(ctx)
		if err != nil {
			return err
		}
		for d, ref := range digests {
			if used[d] {
				continue
			}
			if err := c.ver.Storage().Delete(ctx, ref, d); err != nil {
				return err
			}
		}
	}
	f, err = c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
		f.Purged, f.Versions, f.Aliases = true, []registry.VersionRef{}, map[string]registry.Alias{}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = c.finish(ctx, f, registry.Retired, "purged: action, versions, aliases and artifacts deleted", nil)
	return err
}
