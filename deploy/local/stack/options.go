package stack

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/controller"
	"github.com/fnmgr/fnmgr/deploy/local/profile"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
)

// Default ports, as SPEC.md section 1 shows them.
const (
	DefaultAPIHostPort = 3233
	DefaultGatewayPort = 3234
	DefaultAdminPort   = 3235
	DefaultCouchDBPort = 5984
	DefaultKafkaPort   = 9092

	// DefaultDir is LOCAL_DIR's default.
	DefaultDir = ".local"
	// DBPrefix prefixes OpenWhisk's databases in the local stack.
	DBPrefix = "whisk_local_"
	// Namespace is the namespace endpoints.json names.
	Namespace = seed.GuestNamespace

	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 15 * time.Second

	// EndpointsFile is written in Dir once every part is ready.
	EndpointsFile = "endpoints.json"
	// FnmgrLogFile receives fnmgr's output, in Dir.
	FnmgrLogFile = "fnmgr.log"
)

// Options configures a Stack. Ports are on 127.0.0.1; 0 picks a free port.
type Options struct {
	// Dir holds the stack's state (LOCAL_DIR); DefaultDir when empty.
	Dir string

	APIHostPort int // the first controller's; the others follow it
	GatewayPort int
	AdminPort   int
	CouchDBPort int
	KafkaPort   int

	// Controllers and Invokers count the OpenWhisk parts (1 when zero).
	Controllers int
	Invokers    int
	// UserMemoryMB is each invoker's pool memory (the invoker's default
	// when zero).
	UserMemoryMB int
	// Limits are the controllers' system limits; the profile's when zero.
	Limits controller.Limits

	// Profile names the deployment the stack plays (profile.Default,
	// profile.Helm, profile.Scheduler; SPEC.md section 5); Default when
	// empty.
	Profile string
	// KafkaTopicPrefix is whisk.kafka.topics.prefix for every part, and
	// KafkaUserEventsTopicPrefix whisk.kafka.topics.user-event.prefix
	// (KafkaTopicPrefix when empty, as ansible's group_vars/all defaults
	// it).
	KafkaTopicPrefix, KafkaUserEventsTopicPrefix string

	// FnmgrBin is the fnmgr executable; when empty, "fnmgr" next to the
	// running executable (bin/fnmgr beside bin/localstack).
	FnmgrBin string
	// FnmgrReplicas runs fnmgr as this many replicas behind nginx (on the
	// gateway and admin ports) when above 1 (replicas.go).
	FnmgrReplicas int
	// AdminToken is fnmgr's admin token; a random token made for this run
	// when empty (ParseFlags takes $FNMGR_ADMIN_TOKEN).
	AdminToken string

	// Console receives fnmgr's output, each line prefixed "fnmgr | ", and
	// the summary; os.Stderr when nil.
	Console io.Writer
	// Logger is the stack's log, handed to every part; slog.Default() when
	// nil.
	Logger *slog.Logger
	// StartTimeout bounds the wait for each part; StopTimeout a graceful
	// stop of fnmgr before it is killed.
	StartTimeout, StopTimeout time.Duration

	prof profile.Profile // Profile's values, set by withDefaults
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("stack: resolve %s: %w", o.Dir, err)
	}
	o.Dir = dir
	if o.Controllers == 0 {
		o.Controllers = 1
	}
	if o.Invokers == 0 {
		o.Invokers = 1
	}
	if err := o.resolveProfile(); err != nil {
		return o, err
	}
	if o.FnmgrReplicas < 0 || o.FnmgrReplicas > 16 {
		return o, errors.New("stack: fnmgr replicas must be 0 to 16")
	}
	if o.Controllers < 0 || o.Invokers < 0 || o.UserMemoryMB < 0 {
		return o, errors.New("stack: controllers, invokers and user memory must not be negative")
	}
	if o.FnmgrBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("stack: locate fnmgr next to this executable: %w", err)
		}
		o.FnmgrBin = filepath.Join(filepath.Dir(exe), "fnmgr")
	}
	if o.AdminToken == "" {
		o.AdminToken = randomToken()
	}
	if o.Console == nil {
		o.Console = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return o, nil
}
