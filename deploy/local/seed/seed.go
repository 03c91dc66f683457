// Package seed prepares the CouchDB databases of the local stack as
// OpenWhisk's ansible initdb/wipe tasks do: the databases <prefix>whisks,
// <prefix>subjects and <prefix>activations, OpenWhisk's design documents in
// each, and the default guest subject with OpenWhisk's default guest key.
//
// Run is idempotent: existing databases are kept, design documents are
// rewritten only when they differ, and an existing guest subject is left as
// it is (a blocked or re-keyed guest stays so).
package seed

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
)

// DefaultDBPrefix is the database prefix of OpenWhisk's local environments.
const DefaultDBPrefix = "whisk_local_"

// OpenWhisk's default guest subject (ansible/files/auth.guest).
const (
	GuestNamespace = "guest"
	GuestUUID      = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	GuestKey       = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	// GuestAuth is the guest's API key as wsk takes it ("uuid:key").
	GuestAuth = GuestUUID + ":" + GuestKey
)

//go:embed *.json
var designFiles embed.FS

// designDocs lists the design documents of each database, as ansible's
// initdb.yml and recreateViews.yml install them.
var designDocs = map[string][]string{
	"whisks": {
		"whisks_design_document_for_entities_db_v2.1.0.json",
		"filter_design_document.json",
	},
	"subjects": {
		"auth_design_document_for_subjects_db_v2.0.0.json",
		"namespace_throttlings_design_document_for_subjects_db.json",
		"filter_design_document.json",
	},
	"activations": {
		"whisks_design_document_for_activations_db_v2.1.0.json",
		"whisks_design_document_for_activations_db_filters_v2.1.1.json",
		"activations_design_document_for_activations_db.json",
		"filter_design_document.json",
	},
}

// Options configures Run.
type Options struct {
	// CouchURL of the server (credentials included if any); ignored when
	// Client is set.
	CouchURL string
	// Client to use instead of connecting to CouchURL.
	Client *kivik.Client
	// DBPrefix of the databases; DefaultDBPrefix when empty.
	DBPrefix string
	// Logger; nothing is logged when nil.
	Logger *slog.Logger
	// GuestThrottles, when set, raises the guest namespace's throttles in
	// its limits document, as `wskadmin limits set` writes it. When nil, a
	// limits document an earlier Run wrote is removed (one an operator
	// wrote is kept either way).
	GuestThrottles *Throttles
}

// Throttles are the per-namespace throttles of a limits document.
type Throttles struct {
	InvocationsPerMinute  int
	ConcurrentInvocations int
}

// seededBy marks the guest limits document Run writes, so that a later Run
// may change or remove it without touching one an operator wrote.
const seededBy = "localstack seed"

// Run creates what is missing and returns once everything is in place.
func Run(ctx context.Context, o Options) error {
	if o.DBPrefix == "" {
		o.DBPrefix = DefaultDBPrefix
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "seed")
	client := o.Client
	if client == nil {
		if o.CouchURL == "" {
			return errors.New("seed: Options.CouchURL or Options.Client is required")
		}
		c, err := couch.NewClient(ctx, o.CouchURL, couch.ClientOptions{Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		defer c.Close()
		client = c
	}
	for _, db := range []string{"whisks", "subjects", "activations"} {
		name := o.DBPrefix + db
		if err := couch.EnsureDB(ctx, client, name); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		for _, file := range designDocs[db] {
			changed, err := ensureDesignDoc(ctx, client.DB(name), file)
			if err != nil {
				return fmt.Errorf("seed: %s in %s: %w", file, name, err)
			}
			if changed {
				log.Info("design document installed", "db", name, "file", file)
			}
		}
	}
	created, err := ensureGuest(ctx, client.DB(o.DBPrefix+"subjects"))
	if err != nil {
		return fmt.Errorf("seed: guest subject: %w", err)
	}
	if created {
		log.Info("guest subject created", "namespace", GuestNamespace)
	}
	if err := ensureGuestLimits(ctx, client.DB(o.DBPrefix+"subjects"), o.GuestThrottles, log); err != nil {
		return fmt.Errorf("seed: guest limits: %w", err)
	}
	return nil
}

// guestLimits is the document `wskadmin limits set guest` writes
// (tools/admin/wskadmin, setLimitsCmd: _id "<namespace>/limits" in the
// subjects database), with our marker.
type guestLimits struct {
	ID                    string `json:"_id"`
	Rev                   string `json:"_rev,omitempty"`
	InvocationsPerMinute  *int   `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations *int   `json:"concurrentInvocations,omitempty"`
	SeededBy              string `json:"seededBy,omitempty"`
}

// ensureGuestLimits makes the guest's limits document say want, or removes
// it when want is nil, unless an operator wrote it.
func ensureGuestLimits(ctx context.Context, db *kivik.DB, want *Throttles, log *slog.Logger) error {
	id := GuestNamespace + "/limits"
	var have guestLimits
	err := db.Get(ctx, id).ScanDoc(&have)
	exists := err == nil
	switch {
	case kivik.HTTPStatus(err) == http.StatusNotFound:
	case err != nil:
		return fmt.Errorf("read %s: %w", id, err)
	case have.SeededBy != seededBy:
		log.Info("guest limits document written by someone else; left as it is", "doc", id)
		return nil
	}
	if want == nil {
		if !exists {
			return nil
		}
		if _, err := db.Delete(ctx, id, have.Rev); err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
			return fmt.Errorf("remove %s: %w", id, err)
		}
		log.Info("guest throttles back to the deployment's", "doc", id)
		return nil
	}
	doc := guestLimits{ID: id, Rev: have.Rev, InvocationsPerMinute: &want.InvocationsPerMinute,
		ConcurrentInvocations: &want.ConcurrentInvocations, SeededBy: seededBy}
	if exists && have.InvocationsPerMinute != nil && *have.InvocationsPerMinute == want.InvocationsPerMinute &&
		have.ConcurrentInvocations != nil && *have.ConcurrentInvocations == want.ConcurrentInvocations {
		return nil
	}
	if _, err := db.Put(ctx, id, doc); err != nil {
		if kivik.HTTPStatus(err) == http.StatusConflict {
			return nil // a concurrent seed wrote it
		}
		return fmt.Errorf("write %s: %w", id, err)
	}
	log.Info("guest throttles raised", "invocationsPerMinute", want.InvocationsPerMinute, "concurrentInvocations", want.ConcurrentInvocations)
	return nil
}

// ensureDesignDoc writes the design document in file unless db holds an
// identical one.
func ensureDesignDoc(ctx context.Context, db *kivik.DB, file string) (bool, error) {
	raw, err := designFiles.ReadFile(file)
	if err != nil {
		return false, err
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		return false, fmt.Errorf("decode: %w", err)
	}
	id, _ := want["_id"].(string)
	var have map[string]any
	err = db.Get(ctx, id).ScanDoc(&have)
	switch {
	case kivik.HTTPStatus(err) == http.StatusNotFound:
	case err != nil:
		return false, fmt.Errorf("read %s: %w", id, err)
	default:
		rev := have["_rev"]
		delete(have, "_rev")
		if reflect.DeepEqual(have, want) {
			return false, nil
		}
		want["_rev"] = rev
	}
	if _, err := db.Put(ctx, id, want); err != nil {
		if kivik.HTTPStatus(err) == http.StatusConflict {
			return false, nil // a concurrent seed wrote it
		}
		return false, fmt.Errorf("write %s: %w", id, err)
	}
	return true, nil
}

// ensureGuest creates the guest subject unless a document "guest" exists.
func ensureGuest(ctx context.Context, db *kivik.DB) (bool, error) {
	guest := entity.Subject{
		DocMeta:    entity.DocMeta{ID: GuestNamespace},
		Subject:    GuestNamespace,
		Namespaces: []entity.SubjectNamespace{{Name: GuestNamespace, UUID: GuestUUID, Key: GuestKey}},
	}
	_, err := db.Put(ctx, guest.ID, guest)
	switch {
	case err == nil:
		return true, nil
	case kivik.HTTPStatus(err) == http.StatusConflict:
		return false, nil
	}
	return false, err
}
