package stack

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fnmgr/fnmgr/deploy/local/profile"
)

// Flags of cmd/localstack, each with its environment variable.
const (
	flagDir         = "local-dir"
	flagAPIHostPort = "apihost-port"
	flagGatewayPort = "gateway-port"
	flagAdminPort   = "admin-port"
	flagCouchDBPort = "couchdb-port"
	flagKafkaPort   = "kafka-port"
	flagControllers = "controllers"
	flagInvokers    = "invokers"
	flagUserMemory  = "user-memory"
	flagFnmgrBin    = "fnmgr-bin"
	flagProfile     = "profile"
	flagTopicPrefix = "kafka-topic-prefix"
	flagEventPrefix = "kafka-user-events-topic-prefix"
	flagReplicas    = "fnmgr-replicas"

	// EnvAdminToken, when set, is fnmgr's admin token instead of a random one.
	EnvAdminToken = "FNMGR_ADMIN_TOKEN"
)

// envOf maps each flag to its environment variable.
var envOf = map[string]string{
	flagDir:         "LOCAL_DIR",
	flagAPIHostPort: "OW_APIHOST_PORT",
	flagGatewayPort: "FNMGR_GATEWAY_PORT",
	flagAdminPort:   "FNMGR_ADMIN_PORT",
	flagCouchDBPort: "COUCHDB_PORT",
	flagKafkaPort:   "KAFKA_PORT",
	flagControllers: "OW_CONTROLLERS",
	flagInvokers:    "OW_INVOKERS",
	flagUserMemory:  "OW_USER_MEMORY_MB",
	flagFnmgrBin:    "FNMGR_BIN",
	flagProfile:     "OW_PROFILE",
	flagTopicPrefix: "KAFKA_TOPIC_PREFIX",
	flagEventPrefix: "KAFKA_USER_EVENTS_TOPIC_PREFIX",
	flagReplicas:    "FNMGR_REPLICAS",
}

// named names a flag with its variable: "--apihost-port (OW_APIHOST_PORT)".
func named(f string) string { return fmt.Sprintf("--%s (%s)", f, envOf[f]) }

// ParseFlags builds Options from args, falling back to getenv (os.Getenv
// when nil) and then the defaults; a flag wins over its variable. On -h it
// prints usage to output and returns flag.ErrHelp.
func ParseFlags(name string, args []string, getenv func(string) string, output io.Writer) (Options, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	o := Options{
		Dir: DefaultDir, APIHostPort: DefaultAPIHostPort, GatewayPort: DefaultGatewayPort,
		AdminPort: DefaultAdminPort, CouchDBPort: DefaultCouchDBPort, KafkaPort: DefaultKafkaPort,
		Controllers: 1, Invokers: 1,
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	var errs []string
	str := func(p *string, f, usage string) {
		if v := getenv(envOf[f]); v != "" {
			*p = v
		}
		fs.StringVar(p, f, *p, fmt.Sprintf("%s (env %s)", usage, envOf[f]))
	}
	num := func(p *int, f, usage string) {
		if v := getenv(envOf[f]); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a number", envOf[f], v))
			}
			*p = n
		}
		fs.IntVar(p, f, *p, fmt.Sprintf("%s (env %s)", usage, envOf[f]))
	}
	str(&o.Dir, flagDir, "directory for the stack's state")
	num(&o.APIHostPort, flagAPIHostPort, "OpenWhisk API host port; controller i listens on port+i (0: pick free ports)")
	num(&o.GatewayPort, flagGatewayPort, "fnmgr gateway port (0: pick a free port)")
	num(&o.AdminPort, flagAdminPort, "fnmgr admin API port (0: pick a free port)")
	num(&o.CouchDBPort, flagCouchDBPort, "CouchDB (pouchdb-server) port (0: pick a free port)")
	num(&o.KafkaPort, flagKafkaPort, "Kafka (kfake) port (0: pick a free port)")
	num(&o.Controllers, flagControllers, "number of controllers")
	num(&o.Invokers, flagInvokers, "number of invokers")
	num(&o.UserMemoryMB, flagUserMemory, "each invoker's user memory in MB (0: the invoker's default)")
	str(&o.FnmgrBin, flagFnmgrBin, "fnmgr executable (default: fnmgr next to this executable)")
	str(&o.Profile, flagProfile, "deployment the stack plays: default, helm or scheduler (SPEC.md section 5)")
	str(&o.KafkaTopicPrefix, flagTopicPrefix, "whisk.kafka.topics.prefix of every topic but events")
	str(&o.KafkaUserEventsTopicPrefix, flagEventPrefix, "whisk.kafka.topics.user-event.prefix of events (default: the topic prefix)")
	num(&o.FnmgrReplicas, flagReplicas, "fnmgr replicas; above 1 they run behind nginx on the gateway and admin ports")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nStarts CouchDB, Kafka, the OpenWhisk-compatible controller and invoker, and fnmgr on 127.0.0.1,\nwrites LOCAL_DIR/endpoints.json, and runs until Ctrl-C or SIGTERM. $%s sets fnmgr's admin token.\n\nFlags (a flag wins over its environment variable):\n", name, EnvAdminToken)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if _, err := profile.Get(o.Profile); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", named(flagProfile), err))
	}
	if o.Controllers < 1 || o.Invokers < 1 {
		errs = append(errs, fmt.Sprintf("%s and %s must be at least 1", named(flagControllers), named(flagInvokers)))
	}
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("stack: %s", strings.Join(errs, "; "))
	}
	o.AdminToken = getenv(EnvAdminToken)
	return o, nil
}
