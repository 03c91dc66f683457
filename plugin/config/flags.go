package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Flag names.
const (
	FlagAdminAddr                  = "admin-addr"
	FlagGatewayAddr                = "gateway-addr"
	FlagControllers                = "controllers"
	FlagCouchURL                   = "couchdb-url"
	FlagOWDBPrefix                 = "ow-db-prefix"
	FlagDBPrefix                   = "db-prefix"
	FlagKafkaBrokers               = "kafka-brokers"
	FlagAdminToken                 = "admin-token"
	FlagAdminTokenFile             = "admin-token-file"
	FlagLogLevel                   = "log-level"
	FlagLogFormat                  = "log-format"
	FlagShutdownTimeout            = "shutdown-timeout"
	FlagStorage                    = "storage"
	FlagStorageDir                 = "storage-dir"
	FlagRetention                  = "revision-retention"
	FlagMaxMemory                  = "max-memory"
	FlagMaxGPUNum                  = "max-gpu-num"
	FlagRetireGrace                = "retire-grace"
	FlagOptimizePolicy             = "optimize-policy"
	FlagKafkaTopicPrefix           = "kafka-topic-prefix"
	FlagKafkaUserEventsTopicPrefix = "kafka-user-events-topic-prefix"
	FlagStubKind                   = "stub-kind"
	FlagProbeMargin                = "optimize-probe-margin"
	FlagThrottleShare              = "optimize-throttle-share"
	FlagDCGMHostengines            = "dcgm-hostengines"
	FlagReplicaID                  = "replica-id"
	FlagAdvertiseAdmin             = "advertise-admin-url"
	FlagLeaseTTL                   = "lease-ttl"
	FlagLeaseRenew                 = "lease-renew"
	FlagLeaseSkew                  = "lease-skew"
	FlagConfig                     = "config"
	FlagGatewayFailOpen            = "gateway-fail-open"
	FlagKeyCacheTTL                = "key-cache-ttl"
)

// Environment variables, one for each flag.
const (
	EnvAdminAddr                  = "FNMGR_ADMIN_ADDR"
	EnvGatewayAddr                = "FNMGR_GATEWAY_ADDR"
	EnvControllers                = "FNMGR_CONTROLLERS"
	EnvCouchURL                   = "FNMGR_COUCHDB_URL"
	EnvOWDBPrefix                 = "FNMGR_OW_DB_PREFIX"
	EnvDBPrefix                   = "FNMGR_DB_PREFIX"
	EnvKafkaBrokers               = "FNMGR_KAFKA_BROKERS"
	EnvAdminToken                 = "FNMGR_ADMIN_TOKEN"
	EnvAdminTokenFile             = "FNMGR_ADMIN_TOKEN_FILE"
	EnvLogLevel                   = "FNMGR_LOG_LEVEL"
	EnvLogFormat                  = "FNMGR_LOG_FORMAT"
	EnvShutdownTimeout            = "FNMGR_SHUTDOWN_TIMEOUT"
	EnvStorage                    = "FNMGR_STORAGE"
	EnvStorageDir                 = "FNMGR_STORAGE_DIR"
	EnvRetention                  = "FNMGR_REVISION_RETENTION"
	EnvMaxMemory                  = "FNMGR_MAX_MEMORY"
	EnvMaxGPUNum                  = "FNMGR_MAX_GPU_NUM"
	EnvRetireGrace                = "FNMGR_RETIRE_GRACE"
	EnvOptimizePolicy             = "FNMGR_OPTIMIZE_POLICY"
	EnvKafkaTopicPrefix           = "FNMGR_KAFKA_TOPIC_PREFIX"
	EnvKafkaUserEventsTopicPrefix = "FNMGR_KAFKA_USER_EVENTS_TOPIC_PREFIX"
	EnvStubKind                   = "FNMGR_STUB_KIND"
	EnvProbeMargin                = "FNMGR_OPTIMIZE_PROBE_MARGIN"
	EnvThrottleShare              = "FNMGR_OPTIMIZE_THROTTLE_SHARE"
	EnvDCGMHostengines            = "FNMGR_DCGM_HOSTENGINES"
	EnvReplicaID                  = "FNMGR_REPLICA_ID"
	EnvAdvertiseAdmin             = "FNMGR_ADVERTISE_ADMIN_URL"
	EnvLeaseTTL                   = "FNMGR_LEASE_TTL"
	EnvLeaseRenew                 = "FNMGR_LEASE_RENEW"
	EnvLeaseSkew                  = "FNMGR_LEASE_SKEW"
	EnvConfig                     = "FNMGR_CONFIG"
	EnvGatewayFailOpen            = "FNMGR_GATEWAY_FAIL_OPEN"
	EnvKeyCacheTTL                = "FNMGR_KEY_CACHE_TTL"
)

// raw holds the settings as strings, before validation.
type raw struct {
	adminAddr, gatewayAddr, controllers, couchURL     string
	owDBPrefix, dbPrefix, kafkaBrokers                string
	adminToken, adminTokenFile                        string
	logLevel, logFormat, shutdownTimeout              string
	storage, storageDir, retention                    string
	maxMemory, maxGPUNum, retireGrace                 string
	optimizePolicy                                    string
	kafkaTopicPrefix, userEventsTopicPrefix, stubKind string
	probeMargin, throttleShare, dcgmHostengines       string
	replicaID, advertiseAdmin                         string
	leaseTTL, leaseRenew, leaseSkew                   string
	configFile                                        string
	gatewayFailOpen, keyCacheTTL                      string
}

func defaultRaw() raw {
	return raw{
		adminAddr:       DefaultAdminAddr,
		gatewayAddr:     DefaultGatewayAddr,
		controllers:     DefaultControllers,
		couchURL:        DefaultCouchURL,
		owDBPrefix:      DefaultOWDBPrefix,
		dbPrefix:        DefaultDBPrefix,
		kafkaBrokers:    DefaultKafkaBrokers,
		logLevel:        DefaultLogLevel,
		logFormat:       DefaultLogFormat,
		shutdownTimeout: DefaultShutdownTimeout.String(),
		storage:         StorageCouch,
		retention:       "50",
		maxMemory:       "0",
		maxGPUNum:       "8",
		retireGrace:     DefaultRetireGrace.String(),
		optimizePolicy:  "off",
		gatewayFailOpen: "false",
		keyCacheTTL:     DefaultKeyCacheTTL.String(),
		probeMargin:     DefaultProbeMargin.String(),
		throttleShare:   "0.5",
		leaseTTL:        DefaultLeaseTTL.String(),
		leaseRenew:      DefaultLeaseRenew.String(),
		leaseSkew:       DefaultLeaseSkew.String(),
	}
}

// setting ties a flag to its environment variable and its raw field.
type setting struct {
	flag, env, usage string
	secret           bool // never print its value (not even the default)
	field            func(*raw) *string
}

// reloadable lists the settings `fnmgr serve` applies again on SIGHUP.
var reloadable = map[string]bool{FlagControllers: true, FlagLogLevel: true}

var settings = []setting{
	{FlagAdminAddr, EnvAdminAddr, "admin API listen address (host:port)", false, func(r *raw) *string { return &r.adminAddr }},
	{FlagGatewayAddr, EnvGatewayAddr, "gateway listen address (host:port)", false, func(r *raw) *string { return &r.gatewayAddr }},
	{FlagControllers, EnvControllers, "OpenWhisk controller base URLs, comma-separated", false, func(r *raw) *string { return &r.controllers }},
	{FlagCouchURL, EnvCouchURL, "CouchDB base URL; may carry credentials (never logged)", true, func(r *raw) *string { return &r.couchURL }},
	{FlagOWDBPrefix, EnvOWDBPrefix, "prefix of OpenWhisk's databases (<prefix>whisks, <prefix>subjects, …)", false, func(r *raw) *string { return &r.owDBPrefix }},
	{FlagDBPrefix, EnvDBPrefix, "prefix of fnmgr's own databases", false, func(r *raw) *string { return &r.dbPrefix }},
	{FlagKafkaBrokers, EnvKafkaBrokers, "Kafka seed brokers (host:port), comma-separated", false, func(r *raw) *string { return &r.kafkaBrokers }},
	{FlagAdminToken, EnvAdminToken, "admin Bearer token reaching every namespace (prefer the variable or the file: flags show in ps)", true, func(r *raw) *string { return &r.adminToken }},
	{FlagAdminTokenFile, EnvAdminTokenFile, "file holding the admin token", false, func(r *raw) *string { return &r.adminTokenFile }},
	{FlagLogLevel, EnvLogLevel, "log level: debug, info, warn or error", false, func(r *raw) *string { return &r.logLevel }},
	{FlagLogFormat, EnvLogFormat, "log format: json or text", false, func(r *raw) *string { return &r.logFormat }},
	{FlagShutdownTimeout, EnvShutdownTimeout, "how long a graceful stop may take (Go duration)", false, func(r *raw) *string { return &r.shutdownTimeout }},
	{FlagStorage, EnvStorage, "Storage Handler backend for code artifacts: couch (attachments in <db-prefix>artifacts) or bucket (a folder)", false, func(r *raw) *string { return &r.storage }},
	{FlagStorageDir, EnvStorageDir, "the bucket folder (with --storage bucket): <account>/<function>/<version>/<file>", false, func(r *raw) *string { return &r.storageDir }},
	{FlagRetention, EnvRetention, "revisions kept per function (published versions are kept until retired)", false, func(r *raw) *string { return &r.retention }},
	{FlagMaxMemory, EnvMaxMemory, "MAX_MEMORY in MB for run-time settings; 0 takes the largest invoker user memory from health pings", false, func(r *raw) *string { return &r.maxMemory }},
	{FlagMaxGPUNum, EnvMaxGPUNum, "MAX_GPU_NUM: the most GPUs a node offers a function", false, func(r *raw) *string { return &r.maxGPUNum }},
	{FlagRetireGrace, EnvRetireGrace, "default grace period before a retired function is purged (Go duration)", false, func(r *raw) *string { return &r.retireGrace }},
	{FlagOptimizePolicy, EnvOptimizePolicy, "which new actions the pre-optimizer tunes unasked: off, new (every new action) or annotated (actions annotated fnmgr-optimize)", false, func(r *raw) *string { return &r.optimizePolicy }},
	{FlagKafkaTopicPrefix, EnvKafkaTopicPrefix, "OpenWhisk's whisk.kafka.topics.prefix: prefix of the health and cacheInvalidation topics, and of fnmgr's health consumer group as OpenWhisk prefixes its own (Helm: whisk.kafka.topics.prefix; ansible: kafka_topics_prefix)", false, func(r *raw) *string { return &r.kafkaTopicPrefix }},
	{FlagKafkaUserEventsTopicPrefix, EnvKafkaUserEventsTopicPrefix, "OpenWhisk's whisk.kafka.topics.user-event.prefix: prefix of the events topic and of fnmgr's events consumer group (ansible sets it to kafka_topics_prefix unless kafka_topics_userEvent_prefix is given; Helm leaves it empty)", false, func(r *raw) *string { return &r.userEventsTopicPrefix }},
	{FlagStubKind, EnvStubKind, "runtime kind of the stubs of blocked or retired functions whose kind is neither nodejs nor python; empty takes the controller's default nodejs kind (GET /); must be a kind the controller offers", false, func(r *raw) *string { return &r.stubKind }},
	{FlagProbeMargin, EnvProbeMargin, "how long past an action's time limit the pre-optimizer waits for one of its probes before the run fails (Go duration)", false, func(r *raw) *string { return &r.probeMargin }},
	{FlagThrottleShare, EnvThrottleShare, "share of a namespace's throttle (invocations per minute, concurrent invocations) the pre-optimizer's probes may use, above 0 and at most 1; the rest is left to the user", false, func(r *raw) *string { return &r.throttleShare }},
	{FlagDCGMHostengines, EnvDCGMHostengines, "nv-hostengine address per invoker node for GPU measurement: node=host:port, comma-separated (invoker0=10.0.0.5:5555); empty opens DCGM on fnmgr's own host", false, func(r *raw) *string { return &r.dcgmHostengines }},
	{FlagGatewayFailOpen, EnvGatewayFailOpen, "let a call through the gateway when the caller's credentials cannot be checked (the subjects database does not answer) instead of refusing it with 503; true or false", false, func(r *raw) *string { return &r.gatewayFailOpen }},
	{FlagKeyCacheTTL, EnvKeyCacheTTL, "how long an API key read from the subjects database is trusted before it is read again (admin API, gateway, fnmgr's own invocations); a deleted, blocked or rotated key stops working within this time plus one lookup; at most 25s, 0 reads every time (Go duration)", false, func(r *raw) *string { return &r.keyCacheTTL }},
	{FlagReplicaID, EnvReplicaID, "this replica's id in the leader election, unique among the replicas; the host name when empty (a pod's name on Kubernetes)", false, func(r *raw) *string { return &r.replicaID }},
	{FlagAdvertiseAdmin, EnvAdvertiseAdmin, "the admin API's URL the other replicas forward admin writes to when this replica leads; http://<host name>:<admin port> when empty", false, func(r *raw) *string { return &r.advertiseAdmin }},
	{FlagLeaseTTL, EnvLeaseTTL, "how long the leader's lease lasts without a renewal; another replica takes the lead this long after the leader stops renewing (Go duration)", false, func(r *raw) *string { return &r.leaseTTL }},
	{FlagLeaseRenew, EnvLeaseRenew, "how often the leader renews its lease and followers read it (Go duration, well below --lease-ttl)", false, func(r *raw) *string { return &r.leaseRenew }},
	{FlagLeaseSkew, EnvLeaseSkew, "margin by which the leader stops writing before its lease can be taken: bounds clock-rate drift between replicas and the time between the fencing check and a write (Go duration)", false, func(r *raw) *string { return &r.leaseSkew }},
	{FlagConfig, EnvConfig, "JSON configuration file: an object whose keys are these flags' names (see docs/configuration.md)", false, func(r *raw) *string { return &r.configFile }},
}

// Parse builds Options from args (without the program and subcommand
// names), falling back to getenv (os.Getenv when nil) and then to the
// defaults. Usage goes to output on -h, in which case the error is
// flag.ErrHelp. name names the command in the usage text.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (Options, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	r := defaultRaw()
	defaults := r
	file := configFileArg(args)
	if file == "" {
		file = getenv(EnvConfig)
	}
	if file != "" {
		if err := loadFile(file, &r); err != nil {
			return Options{}, err
		}
	}
	for _, s := range settings {
		p := s.field(&r)
		def := *s.field(&defaults)
		if v := getenv(s.env); v != "" {
			*p = v
		}
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if s.secret {
			// The flag package prints non-empty defaults: keep the
			// value from the environment out of the usage text.
			// The built-in default is no secret.
			if def != "" {
				usage = fmt.Sprintf("%s (env %s, default %q)", s.usage, s.env, def)
			}
			fs.Func(s.flag, usage, func(v string) error { *p = v; return nil })
			continue
		}
		fs.StringVar(p, s.flag, *p, usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nFlags (a flag wins over its environment variable, which wins over the --config file):\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	return build(r)
}

// problems gathers validation failures so that all are reported at once.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New("config: " + strings.Join(p, "; "))
}

// named names a setting the way a user can fix it: "--admin-addr (FNMGR_ADMIN_ADDR)".
func named(flagName string) string {
	for _, s := range settings {
		if s.flag == flagName {
			return fmt.Sprintf("--%s (%s)", s.flag, s.env)
		}
	}
	return "--" + flagName
}
