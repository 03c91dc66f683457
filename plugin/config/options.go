package config

import (
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultAdminAddr       = "127.0.0.1:3235"
	DefaultGatewayAddr     = "127.0.0.1:3234"
	DefaultControllers     = "http://127.0.0.1:3233"
	DefaultCouchURL        = "http://127.0.0.1:5984"
	DefaultOWDBPrefix      = "whisk_local_"
	DefaultDBPrefix        = "fnmgr_"
	DefaultKafkaBrokers    = "127.0.0.1:9092"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "json"
	DefaultShutdownTimeout = 15 * time.Second
	DefaultRetireGrace     = 24 * time.Hour
	// The leader election's lease (plugin/leader): a kill -9 of the
	// leader is noticed within DefaultLeaseTTL plus one renewal.
	DefaultLeaseTTL   = 5 * time.Second
	DefaultLeaseRenew = time.Second
	DefaultLeaseSkew  = time.Second
	// DefaultKeyCacheTTL and MaxKeyCacheTTL keep a revoked key's last use
	// under 30 s: the expiry plus the time to read the subject again.
	DefaultKeyCacheTTL = 25 * time.Second
	MaxKeyCacheTTL     = 25 * time.Second
	DefaultProbeMargin = 30 * time.Second

	// MinAdminTokenLen is the shortest admin token accepted.
	MinAdminTokenLen = 16
)

// Storage backends.
const (
	StorageCouch  = "couch"
	StorageBucket = "bucket"
)

// Log formats.
const (
	LogFormatJSON = "json"
	LogFormatText = "text"
)

// Options is fnmgr's whole configuration. Build it with Parse, or start
// from Default and call Validate.
type Options struct {
	// AdminAddr is the admin API's listen address (host:port; port 0 picks
	// a free one).
	AdminAddr string
	// GatewayAddr is the gateway's listen address.
	GatewayAddr string
	// Controllers are the OpenWhisk controllers' base URLs, such as
	// http://127.0.0.1:3233. At least one.
	Controllers []*url.URL
	// CouchURL is CouchDB's base URL; it may carry credentials
	// (http://user:pass@host:5984), which are never logged.
	CouchURL *url.URL
	// OWDBPrefix prefixes OpenWhisk's databases: <prefix>whisks,
	// <prefix>subjects, <prefix>activations.
	OWDBPrefix string
	// DBPrefix prefixes fnmgr's own databases.
	DBPrefix string
	// KafkaBrokers are host:port seed brokers of OpenWhisk's Kafka.
	KafkaBrokers []string
	// AdminToken is the Bearer token that reaches every namespace of the
	// admin API; empty turns Bearer authentication off.
	AdminToken string
	// AdminTokenFile is where AdminToken was read from, if from a file.
	AdminTokenFile string
	// LogLevel and LogFormat (LogFormatJSON or LogFormatText) shape the
	// daemon's log.
	LogLevel  slog.Level
	LogFormat string
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// Storage is the Storage Handler backend (StorageCouch or
	// StorageBucket); StorageDir is the bucket's folder.
	Storage    string
	StorageDir string
	// Retention is how many revisions are kept per function.
	Retention int
	// MaxMemoryMB overrides MAX_MEMORY (0: from invoker health pings).
	MaxMemoryMB int
	// MaxGPUNum is MAX_GPU_NUM.
	MaxGPUNum int
	// RetireGrace is the default grace period before a purge.
	RetireGrace time.Duration
	// OptimizePolicy is off, new or annotated.
	OptimizePolicy string
	// KafkaTopicPrefix is OpenWhisk's whisk.kafka.topics.prefix, put before
	// the health and cacheInvalidation topics (common/scala/src/main/
	// resources/application.conf; Controller.scala and
	// RemoteCacheInvalidation.scala apply it).
	KafkaTopicPrefix string
	// UserEventsTopicPrefix is OpenWhisk's
	// whisk.kafka.topics.user-event.prefix, put before the events topic
	// (common/scala/.../UserEvents.scala). OpenWhisk's default is "", not
	// KafkaTopicPrefix; ansible's group_vars/all sets it to
	// kafka_topics_prefix unless told otherwise.
	UserEventsTopicPrefix string
	// StubKind, when set, is the runtime kind of stubs for functions whose
	// kind is neither nodejs nor python; "" takes the controller's default
	// nodejs kind.
	StubKind string
	// ProbeMargin is added to an action's time limit to bound the wait
	// for each of the pre-optimizer's probes.
	ProbeMargin time.Duration
	// ThrottleShare is the share of a namespace's throttle the
	// pre-optimizer's probes may use (0 < share <= 1).
	ThrottleShare float64
	// DCGMHostengines maps invoker node names to nv-hostengine addresses
	// (host:port); empty: DCGM embedded on fnmgr's host.
	DCGMHostengines map[string]string
	// GatewayFailOpen lets calls through the gateway when the caller's
	// credentials cannot be checked (off: refused with 503).
	GatewayFailOpen bool
	// KeyCacheTTL is how long a key read from the subjects database is
	// trusted (0: read every time).
	KeyCacheTTL time.Duration
	// ReplicaID names this replica in the leader election; unique among
	// the replicas sharing one registry.
	ReplicaID string
	// AdvertiseAdminURL is where the other replicas reach this replica's
	// admin API when it leads.
	AdvertiseAdminURL *url.URL
	// LeaseTTL, LeaseRenew and LeaseSkew shape the leader's lease: it lasts
	// LeaseTTL after a renewal, is renewed every LeaseRenew, and the leader
	// stops writing LeaseSkew before it could be taken.
	LeaseTTL, LeaseRenew, LeaseSkew time.Duration
	// ConfigFile is the JSON file the settings were read from, if any;
	// `fnmgr serve` reads it again on SIGHUP.
	ConfigFile string
}

// Topic is OpenWhisk's topic name with the prefix OpenWhisk puts before it:
// the user-event prefix for "events", the topics prefix for the others.
func (o Options) Topic(name string) string {
	if name == "events" {
		return o.UserEventsTopicPrefix + name
	}
	return o.KafkaTopicPrefix + name
}

// RegistryDB is fnmgr's Meta Registry database.
func (o Options) RegistryDB() string { return o.DBPrefix + "registry" }

// OptimizationsDB is the pre-optimizer's database: one document per run.
func (o Options) OptimizationsDB() string { return o.DBPrefix + "optimizations" }

// ArtifactsDB is the couch Storage Handler's database.
func (o Options) ArtifactsDB() string { return o.DBPrefix + "artifacts" }

// Default returns the Options every flag defaults to.
func Default() Options {
	o, err := build(defaultRaw())
	if err != nil {
		panic("config: defaults do not validate: " + err.Error())
	}
	return o
}

// SubjectsDB is the name of OpenWhisk's subjects (auth) database.
func (o Options) SubjectsDB() string { return o.OWDBPrefix + "subjects" }

// WhisksDB is the name of OpenWhisk's entities database.
func (o Options) WhisksDB() string { return o.OWDBPrefix + "whisks" }

// ActivationsDB is the name of OpenWhisk's activations database.
func (o Options) ActivationsDB() string { return o.OWDBPrefix + "activations" }

// LogValue shows the Options with secrets redacted: CouchDB's password
// becomes "xxxxx" and the admin token only says whether it is set.
func (o Options) LogValue() slog.Value {
	ctrls := make([]string, len(o.Controllers))
	for i, u := range o.Controllers {
		ctrls[i] = u.Redacted()
	}
	couch := ""
	if o.CouchURL != nil {
		couch = RedactURL(o.CouchURL)
	}
	token := "unset"
	if o.AdminToken != "" {
		token = "set"
	}
	return slog.GroupValue(
		slog.String("admin_addr", o.AdminAddr),
		slog.String("gateway_addr", o.GatewayAddr),
		slog.String("controllers", strings.Join(ctrls, ",")),
		slog.String("couchdb_url", couch),
		slog.String("ow_db_prefix", o.OWDBPrefix),
		slog.String("db_prefix", o.DBPrefix),
		slog.String("kafka_brokers", strings.Join(o.KafkaBrokers, ",")),
		slog.String("admin_token", token),
		slog.String("log_level", o.LogLevel.String()),
		slog.String("log_format", o.LogFormat),
		slog.Duration("shutdown_timeout", o.ShutdownTimeout),
		slog.String("storage", o.Storage),
		slog.String("storage_dir", o.StorageDir),
		slog.Int("revision_retention", o.Retention),
		slog.Int("max_memory_mb", o.MaxMemoryMB),
		slog.Int("max_gpu_num", o.MaxGPUNum),
		slog.Duration("retire_grace", o.RetireGrace),
		slog.String("optimize_policy", o.OptimizePolicy),
		slog.String("kafka_topic_prefix", o.KafkaTopicPrefix),
		slog.String("kafka_user_events_topic_prefix", o.UserEventsTopicPrefix),
		slog.String("stub_kind", o.StubKind),
		slog.Duration("optimize_probe_margin", o.ProbeMargin),
		slog.Float64("optimize_throttle_share", o.ThrottleShare),
		slog.String("dcgm_hostengines", hostenginesString(o.DCGMHostengines)),
		slog.Bool("gateway_fail_open", o.GatewayFailOpen),
		slog.Duration("key_cache_ttl", o.KeyCacheTTL),
		slog.String("replica_id", o.ReplicaID),
		slog.String("advertise_admin_url", redacted(o.AdvertiseAdminURL)),
		slog.Duration("lease_ttl", o.LeaseTTL),
		slog.Duration("lease_renew", o.LeaseRenew),
		slog.Duration("lease_skew", o.LeaseSkew),
		slog.String("config_file", o.ConfigFile),
	)
}

func redacted(u *url.URL) string {
	if u == nil {
		return ""
	}
	return RedactURL(u)
}

// RedactURL returns u without any user name or password.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// hostenginesString writes the node → hostengine map as sorted
// node=address pairs, so it logs the same way every time and compares as a
// string (slog.Value.Equal panics on a map, which the SIGHUP reloader's
// change detection would otherwise meet).
func hostenginesString(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for _, node := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, node+"="+m[node])
	}
	return strings.Join(pairs, ",")
}
