package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fnmgr/fnmgr/plugin/client"
)

// Environment variables and wskprops keys the CLI reads.
const (
	EnvAdmin      = "FNMGR_ADMIN"
	EnvAuth       = "FNMGR_AUTH"
	EnvAdminToken = "FNMGR_ADMIN_TOKEN"
	EnvNamespace  = "FNMGR_NAMESPACE"
	EnvWskConfig  = "WSK_CONFIG_FILE"

	// DefaultAdmin is the admin API's URL when nothing names one.
	DefaultAdmin = "http://127.0.0.1:3235"
)

// Session is what an action works with: the client, the output, the
// global flags.
type Session struct {
	env    Env
	g      *globals
	out    io.Writer
	path   []string
	client *client.Client
	// cobra is the command being run, in its tree (for completion).
	cobra *cobra.Command
}

// connect resolves the admin API's URL and the credentials: a flag, then
// the environment, then wsk's properties file.
func (s *Session) connect() error {
	props, propsPath, err := readWskProps(s.env)
	if err != nil {
		return err
	}
	pick := func(flagVal, envKey, propKey string) string {
		if flagVal != "" {
			return flagVal
		}
		if v := s.env.getenv(envKey); v != "" {
			return v
		}
		if propKey != "" {
			return props[propKey]
		}
		return ""
	}
	admin := pick(s.g.admin, EnvAdmin, "FNMGR_ADMIN")
	if admin == "" {
		admin = DefaultAdmin
	}
	token := pick(s.g.adminToken, EnvAdminToken, "")
	key := pick(s.g.auth, EnvAuth, "")
	ns := pick(s.g.namespace, EnvNamespace, "NAMESPACE")
	var authz string
	switch {
	case token != "" && key != "":
		return fmt.Errorf("%w: give either an OpenWhisk key (--auth, %s) or the admin token (--admin-token, %s), not both", ErrUsage, EnvAuth, EnvAdminToken)
	case token != "":
		authz = client.BearerAuth(token)
		if ns == "" || ns == "_" {
			return fmt.Errorf("%w: the admin token reaches every namespace but has none of its own: name one with --namespace or %s", ErrUsage, EnvNamespace)
		}
	default:
		if key == "" {
			key = props["AUTH"]
		}
		if key == "" {
			return fmt.Errorf("no credentials: set AUTH in %s (wsk property set --auth uuid:key), or pass --auth / %s, or the admin token with --admin-token / %s", propsPath, EnvAuth, EnvAdminToken)
		}
		if !strings.Contains(key, ":") {
			return fmt.Errorf("%w: the OpenWhisk key must be uuid:key", ErrUsage)
		}
		authz = client.BasicAuth(key)
	}
	hc := s.env.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	c, err := client.New(client.Options{BaseURL: admin, Authorization: authz, Namespace: ns,
		Timeout: s.g.timeout, HTTPClient: hc, UserAgent: "fnmgr-cli/" + s.env.Version})
	if err != nil {
		return fmt.Errorf("%w: %v (set --admin or %s)", ErrUsage, err, EnvAdmin)
	}
	s.client = c
	return nil
}

// readWskProps reads wsk's properties file: $WSK_CONFIG_FILE, else
// ~/.wskprops. A missing file is empty.
func readWskProps(e Env) (map[string]string, string, error) {
	path := e.getenv(EnvWskConfig)
	if path == "" {
		home := e.getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		path = filepath.Join(home, ".wskprops")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read wsk properties %s: %w", path, err)
	}
	defer f.Close()
	props, err := parseWskProps(f)
	if err != nil {
		return nil, path, fmt.Errorf("read wsk properties %s: %w", path, err)
	}
	return props, path, nil
}

// parseWskProps reads KEY=VALUE lines; blank lines and # comments are
// skipped, as wsk does.
func parseWskProps(r io.Reader) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return props, sc.Err()
}
