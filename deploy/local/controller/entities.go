package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// loadDoc returns the whisks document docid through the entity cache.
func (c *Controller) loadDoc(ctx context.Context, docid string) ([]byte, error) {
	if raw, ok := c.cache.get(docid); ok {
		return raw, nil
	}
	gen := c.cache.generation()
	raw, err := getRaw(ctx, c.store.wdb, docid)
	if err != nil {
		return nil, err
	}
	c.cache.put(docid, raw, gen)
	return raw, nil
}

// getEntity reads docid into v, failing with errWrongType when the document
// is of another entity type (OpenWhisk's conformance check).
func (c *Controller) getEntity(ctx context.Context, docid, entityType string, v any) error {
	raw, err := c.loadDoc(ctx, docid)
	if err != nil {
		return err
	}
	return decodeEntity(docid, raw, entityType, v)
}

// decodeEntity decodes document docid into v if it is of entityType, and
// fails with errWrongType if it is another entity's.
func decodeEntity(docid string, raw []byte, entityType string, v any) error {
	kind, err := entity.Kind(raw)
	if err != nil {
		return fmt.Errorf("controller: %s: %w", docid, err)
	}
	if kind != entityType {
		return fmt.Errorf("controller: %s is a %q: %w", docid, kind, errWrongType)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("controller: decode %s: %w", docid, err)
	}
	return nil
}

// getOf reads f's document, of entityType, through the cache.
func getOf[E any](ctx context.Context, c *Controller, entityType string, f fqn) (E, error) {
	var e E
	err := c.getEntity(ctx, f.DocID(), entityType, &e)
	return e, err
}

func (c *Controller) getAction(ctx context.Context, f fqn) (entity.Action, error) {
	a, err := getOf[entity.Action](ctx, c, entity.TypeAction, f)
	if err != nil {
		return a, err
	}
	return a, c.checkReadable(a)
}

// msgCorruptedEntity is Messages.corruptedEntity (ErrorResponse.scala).
const msgCorruptedEntity = "Resource is corrupted and cannot be read."

// checkReadable fails an action document whose kind this deployment does
// not offer as OpenWhisk fails it: Exec's reader throws "kind '…' not in
// …" (Exec.scala, ExecMetaDataSerializer), CouchDbRestStore turns that into
// DocumentUnreadable(corruptedEntity), and ApiUtils answers 500 with that
// text for get, invoke, update and delete alike (OpenWhisk master
// 1fae641a2, as in the controller image Helm pins).
func (c *Controller) checkReadable(a entity.Action) error {
	switch k := a.Exec.Kind; k {
	case entity.KindSequence, entity.KindBlackbox:
		return nil
	default:
		if _, ok := c.runtimes.byKind[k]; ok {
			return nil
		}
		c.log.Warn("action document names a kind this deployment does not offer", "action", a.ID, "kind", k)
		return errStatus(http.StatusInternalServerError, msgCorruptedEntity)
	}
}

func (c *Controller) getPackage(ctx context.Context, f fqn) (entity.Package, error) {
	return getOf[entity.Package](ctx, c, entity.TypePackage, f)
}

func (c *Controller) getTrigger(ctx context.Context, f fqn) (entity.Trigger, error) {
	return getOf[entity.Trigger](ctx, c, entity.TypeTrigger, f)
}

func (c *Controller) getRule(ctx context.Context, f fqn) (entity.Rule, error) {
	return getOf[entity.Rule](ctx, c, entity.TypeRule, f)
}

// existing reads docid for a PUT: it returns found=false when there is no
// document, and the conformance error when it is another entity type.
func (c *Controller) existing(ctx context.Context, docid, entityType string, v any) (bool, error) {
	// Bypass the cache: the revision must be current.
	raw, err := getRaw(ctx, c.store.wdb, docid)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := decodeEntity(docid, raw, entityType, v); err != nil {
		return false, err
	}
	return true, nil
}

// writeEntity puts an entity document (not an action with code) and
// announces it.
func (c *Controller) writeEntity(ctx context.Context, docid string, v any) (string, error) {
	rev, err := putDoc(ctx, c.store.wdb, docid, v)
	c.cache.invalidate(docid)
	if err != nil {
		return "", err
	}
	c.publishInvalidation(ctx, docid)
	return rev, nil
}

// writeAction stores an action with its code through whiskdb, exactly as
// OpenWhisk does, and announces it.
func (c *Controller) writeAction(ctx context.Context, a entity.Action, code []byte, contentType string) (entity.Action, error) {
	out, err := c.store.whisks.PutAction(ctx, a, code, contentType)
	c.cache.invalidate(a.ID)
	if err != nil {
		return entity.Action{}, classify("put action "+a.ID, err)
	}
	c.publishInvalidation(ctx, a.ID)
	return out, nil
}

// deleteEntity deletes docid at rev and announces it.
func (c *Controller) deleteEntity(ctx context.Context, docid, rev string) error {
	_, err := c.store.wdb.Delete(ctx, docid, rev)
	c.cache.invalidate(docid)
	if err != nil {
		return classify("delete "+docid, err)
	}
	c.publishInvalidation(ctx, docid)
	return nil
}

func isNotFound(err error) bool { return err != nil && asAPIError(err) == errNotFound }
