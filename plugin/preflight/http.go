package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// get sends GET (or HEAD) to u, with u's credentials as Basic auth, and
// returns the status and up to 1 MiB of body.
func get(ctx context.Context, o Options, method string, u *url.URL, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	target := *u
	target.User = nil
	target.Path = target.Path + path
	req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

func checkCouch(ctx context.Context, o Options) []Result {
	cfg := o.Config
	u := cfg.CouchURL
	target := config.RedactURL(u)
	flag := fmt.Sprintf("--%s (%s)", config.FlagCouchURL, config.EnvCouchURL)
	status, body, err := get(ctx, o, http.MethodGet, u, "/")
	switch {
	case err != nil:
		return []Result{fail("couchdb", target, "does not answer: "+cause(err),
			"start CouchDB or point "+flag+" at it, such as http://whisk_admin:PASSWORD@HOST:5984 (Helm: <release>-couchdb:5984)")}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return []Result{fail("couchdb", target, fmt.Sprintf("refuses the credentials (HTTP %d)", status),
			"put the admin user and password in "+flag+": http://USER:PASSWORD@HOST:5984 (Helm: the <release>-db.auth secret)")}
	case status != http.StatusOK:
		return []Result{fail("couchdb", target, fmt.Sprintf("GET / answered HTTP %d", status), "check that "+flag+" is CouchDB's base URL")}
	}
	// CouchDB welcomes with {"couchdb": "Welcome", "version": …};
	// pouchdb-server (the local stack's) with {"express-pouchdb": …}.
	var root map[string]any
	_ = json.Unmarshal(body, &root)
	server := ""
	for _, k := range []string{"couchdb", "express-pouchdb"} {
		if _, isWelcome := root[k]; isWelcome {
			server = k
		}
	}
	if server == "" {
		return []Result{fail("couchdb", target, "GET / did not answer like CouchDB", "check that "+flag+" is CouchDB's base URL")}
	}
	version, _ := root["version"].(string)
	out := []Result{ok("couchdb", target, fmt.Sprintf("%s %s answers", server, version))}
	prefix := fmt.Sprintf("--%s (%s)", config.FlagOWDBPrefix, config.EnvOWDBPrefix)
	for _, db := range []string{cfg.WhisksDB(), cfg.SubjectsDB(), cfg.ActivationsDB()} {
		out = append(out, checkDB(ctx, o, db, true,
			fmt.Sprintf("OpenWhisk's databases are <prefix>whisks, <prefix>subjects and <prefix>activations: set %s to OpenWhisk's prefix (%q now; Helm uses test_, ansible whisk_local_, docker-compose local_)", prefix, cfg.OWDBPrefix)))
	}
	own := []string{cfg.RegistryDB()}
	if cfg.Storage == config.StorageCouch {
		own = append(own, cfg.ArtifactsDB())
	}
	for _, db := range own {
		out = append(out, checkDB(ctx, o, db, false, ""))
	}
	return out
}

// checkDB checks that database db exists; fnmgr's own databases may be
// missing (it creates them at start).
func checkDB(ctx context.Context, o Options, db string, required bool, fix string) Result {
	status, _, err := get(ctx, o, http.MethodHead, o.Config.CouchURL, "/"+url.PathEscape(db))
	switch {
	case err != nil:
		return fail("couchdb database", db, "cannot be read: "+cause(err), "see the couchdb check above")
	case status == http.StatusOK:
		return ok("couchdb database", db, "exists")
	case status == http.StatusNotFound && !required:
		return ok("couchdb database", db, "does not exist yet; fnmgr creates it at start (its CouchDB user needs the right to)")
	case status == http.StatusNotFound:
		return fail("couchdb database", db, "does not exist", fix)
	default:
		return fail("couchdb database", db, fmt.Sprintf("HEAD answered HTTP %d", status), "give fnmgr's CouchDB user access to "+db)
	}
}

func checkControllers(ctx context.Context, o Options) []Result {
	flag := fmt.Sprintf("--%s (%s)", config.FlagControllers, config.EnvControllers)
	var out []Result
	for _, u := range o.Config.Controllers {
		target := config.RedactURL(u)
		status, body, err := get(ctx, o, http.MethodGet, u, "/")
		var root struct {
			APIPaths []string `json:"api_paths"`
		}
		switch {
		case err != nil:
			out = append(out, fail("controller", target, "does not answer: "+cause(err),
				"start the controller or fix "+flag+" (Helm: http://<release>-controller:8080; docker-compose: http://controller:8888)"))
		case status != http.StatusOK:
			out = append(out, fail("controller", target, fmt.Sprintf("GET / answered HTTP %d", status), "point "+flag+" at OpenWhisk controllers' base URLs"))
		case json.Unmarshal(body, &root) != nil || len(root.APIPaths) == 0:
			out = append(out, fail("controller", target, "GET / did not answer like an OpenWhisk controller (no api_paths)", "point "+flag+" at the controllers, not at nginx or the API gateway"))
		default:
			out = append(out, ok("controller", target, "OpenWhisk controller answers"))
		}
	}
	return out
}

func checkStorage(ctx context.Context, o Options) []Result {
	cfg := o.Config
	if cfg.Storage != config.StorageBucket {
		return nil
	}
	flag := fmt.Sprintf("--%s (%s)", config.FlagStorageDir, config.EnvStorageDir)
	f, err := os.CreateTemp(cfg.StorageDir, ".fnmgr-check-*")
	if err != nil {
		return []Result{fail("storage", cfg.StorageDir, "cannot write: "+err.Error(), "create the folder named by "+flag+" and let fnmgr's user write to it")}
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return []Result{ok("storage", cfg.StorageDir, "bucket folder is writable ("+filepath.Base(cfg.StorageDir)+")")}
}
