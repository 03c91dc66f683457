package stack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Endpoints is the content of <Dir>/endpoints.json (SPEC.md section 1).
type Endpoints struct {
	APIHost    string   `json:"apihost"`
	Gateway    string   `json:"gateway"`
	Admin      string   `json:"admin"`
	CouchDB    string   `json:"couchdb"`
	Kafka      []string `json:"kafka"`
	Namespace  string   `json:"namespace"`
	Auth       string   `json:"auth"`
	AdminToken string   `json:"adminToken"`
	// Profile is the deployment the stack plays (SPEC.md section 5).
	Profile string `json:"profile"`
	// KafkaTopicPrefix and KafkaUserEventsTopicPrefix are the topic
	// prefixes of every part (empty: none).
	KafkaTopicPrefix           string `json:"kafkaTopicPrefix"`
	KafkaUserEventsTopicPrefix string `json:"kafkaUserEventsTopicPrefix"`
	// Fnmgr lists fnmgr's replicas when the stack runs several behind
	// nginx (FNMGR_REPLICAS); Gateway and Admin are then nginx's.
	Fnmgr []FnmgrReplica `json:"fnmgr,omitempty"`
}

// writeEndpoints writes e to path atomically: a temporary file in the same
// directory, synced, then renamed over path. Only the owner may read it (it
// holds the admin token).
func writeEndpoints(path string, e Endpoints) (err error) {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("stack: encode endpoints: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("stack: write endpoints: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("stack: write endpoints: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("stack: write endpoints: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("stack: write endpoints: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("stack: write endpoints: %w", err)
	}
	return nil
}

func removeEndpoints(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stack: remove endpoints: %w", err)
	}
	return nil
}

// randomToken returns 32 random bytes in hex: the admin token of a run.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// printSummary tells a person where everything is. Secrets stay in
// endpoints.json.
func printSummary(w io.Writer, dir string, e Endpoints) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nLocal stack ready (profile %s, state in %s):\n", e.Profile, dir)
	fmt.Fprintf(&b, "  OpenWhisk API  %s   wsk -i --apihost %s --auth %s …\n", e.APIHost, e.APIHost, e.Auth)
	fmt.Fprintf(&b, "  fnmgr gateway  %s   (the whole OpenWhisk API through fnmgr)\n", e.Gateway)
	fmt.Fprintf(&b, "  fnmgr admin    %s   (Authorization: Bearer <adminToken from endpoints.json>)\n", e.Admin)
	fmt.Fprintf(&b, "  CouchDB        %s\n", e.CouchDB)
	fmt.Fprintf(&b, "  Kafka          %s", strings.Join(e.Kafka, ","))
	if e.KafkaTopicPrefix != "" || e.KafkaUserEventsTopicPrefix != "" {
		fmt.Fprintf(&b, "   (topic prefix %q, user events %q)", e.KafkaTopicPrefix, e.KafkaUserEventsTopicPrefix)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  endpoints      %s\n", filepath.Join(dir, EndpointsFile))
	fmt.Fprintf(&b, "  fnmgr log      %s\n", filepath.Join(dir, FnmgrLogFile))
	b.WriteString("Press Ctrl-C to stop.\n")
	_, _ = io.WriteString(w, b.String())
}
