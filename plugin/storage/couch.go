package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
)

const attachmentName = "code"

// Couch keeps artifacts as attachments in a CouchDB database, one document
// per digest.
type Couch struct {
	db *kivik.DB
	b  *couch.Batcher
}

// NewCouch returns a Couch store over db. Artifacts stored at the same
// time by different callers share a _bulk_docs request (couch.Batcher).
func NewCouch(db *kivik.DB) *Couch {
	return &Couch{db: db, b: couch.NewBatcher(db, couch.BatcherOptions{MaxBatch: 50})}
}

type artifactDoc struct {
	ID      string    `json:"_id"`
	Type    string    `json:"type"`
	Size    int       `json:"size"`
	Created time.Time `json:"created"`
	Refs    []string  `json:"refs"`
	// Data holds code under MaxInlineSize in the document itself (base64),
	// as OpenWhisk keeps small code in the action document: an attachment
	// costs the database several times more work to write. Larger code is
	// the attachment "code".
	Data []byte `json:"data,omitempty"`

	Attachments map[string]inlineAttachment `json:"_attachments,omitempty"`
}

// Put implements Store: one request writes the document and its bytes
// together, so an artifact is never seen without them; a conflict means
// the same bytes are stored already.
func (c *Couch) Put(ctx context.Context, ref Ref, data []byte) (string, error) {
	d := entity.Digest(data)
	doc := artifactDoc{ID: d, Type: "artifact", Size: len(data), Created: time.Now().UTC(), Refs: []string{LayoutPath(ref)}}
	if len(data) < entity.MaxInlineSize {
		doc.Data = data
		if doc.Data == nil {
			doc.Data = []byte{}
		}
	} else {
		doc.Attachments = map[string]inlineAttachment{attachmentName: {ContentType: "application/octet-stream", Data: data}}
	}
	if _, err := c.b.Put(ctx, d, doc); err != nil {
		if couch.IsConflict(err) {
			return d, nil
		}
		return "", fmt.Errorf("storage: put %s: %w", d, err)
	}
	return d, nil
}

type inlineAttachment struct {
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"` // base64 in JSON, as CouchDB wants inline attachments
}

// Get implements Store.
func (c *Couch) Get(ctx context.Context, digest string) ([]byte, error) {
	if _, err := checkDigest(digest); err != nil {
		return nil, err
	}
	var doc artifactDoc
	if err := c.b.Get(ctx, digest, &doc); err != nil {
		if couch.IsNotFound(err) {
			return nil, fmt.Errorf("storage: %s: %w", digest, ErrNotFound)
		}
		return nil, fmt.Errorf("storage: get %s: %w", digest, err)
	}
	if doc.Data != nil || doc.Size == 0 {
		return verified(digest, doc.Data)
	}
	att, err := c.db.GetAttachment(ctx, digest, attachmentName)
	if err != nil {
		if couch.IsNotFound(err) {
			return nil, fmt.Errorf("storage: %s: %w", digest, ErrNotFound)
		}
		return nil, fmt.Errorf("storage: get %s: %w", digest, err)
	}
	defer att.Content.Close()
	b, err := io.ReadAll(att.Content)
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", digest, err)
	}
	return verified(digest, b)
}

func verified(digest string, b []byte) ([]byte, error) {
	if b == nil {
		b = []byte{}
	}
	if entity.Digest(b) != digest {
		return nil, fmt.Errorf("storage: %s: stored bytes do not match their digest", digest)
	}
	return b, nil
}

// Has implements Store: true only once the bytes are attached.
func (c *Couch) Has(ctx context.Context, digest string) (bool, error) {
	if _, err := checkDigest(digest); err != nil {
		return false, err
	}
	var doc struct {
		Size        int             `json:"size"`
		Data        json.RawMessage `json:"data"`
		Attachments map[string]any  `json:"_attachments"`
	}
	if err := c.b.Get(ctx, digest, &doc); err != nil {
		if couch.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("storage: has %s: %w", digest, err)
	}
	_, ok := doc.Attachments[attachmentName]
	return ok || doc.Data != nil || doc.Size == 0, nil
}

// Delete implements Store.
func (c *Couch) Delete(ctx context.Context, _ Ref, digest string) error {
	if _, err := checkDigest(digest); err != nil {
		return err
	}
	row := c.db.Get(ctx, digest)
	rev, err := row.Rev()
	if err != nil {
		if couch.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("storage: delete %s: %w", digest, err)
	}
	_ = row.Close()
	if _, err := c.db.Delete(ctx, digest, rev); err != nil && !couch.IsNotFound(err) {
		return fmt.Errorf("storage: delete %s: %w", digest, err)
	}
	return nil
}
