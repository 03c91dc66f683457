package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dbPrefixRE is what a CouchDB database name may start with: a lowercase
// letter, then lowercase letters, digits and _$()+-/.
var dbPrefixRE = regexp.MustCompile(`^[a-z][a-z0-9_$()+/-]*$`)

// topicPrefixRE is what a Kafka topic name may hold (Kafka's
// Topic.legalChars), short enough to leave room for the name.
var topicPrefixRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,200}$`)

// kindRE is a runtime kind: family:version ("nodejs:20", "python:3.11").
var kindRE = regexp.MustCompile(`^[a-z][a-z0-9]*:[a-z0-9][a-z0-9._-]*$`)

// build turns raw settings into Options, reporting every problem.
func build(r raw) (Options, error) {
	var p problems
	o := Options{
		AdminAddr:             strings.TrimSpace(r.adminAddr),
		GatewayAddr:           strings.TrimSpace(r.gatewayAddr),
		OWDBPrefix:            strings.TrimSpace(r.owDBPrefix),
		DBPrefix:              strings.TrimSpace(r.dbPrefix),
		KafkaBrokers:          splitList(r.kafkaBrokers),
		AdminToken:            strings.TrimSpace(r.adminToken),
		AdminTokenFile:        strings.TrimSpace(r.adminTokenFile),
		LogFormat:             strings.ToLower(strings.TrimSpace(r.logFormat)),
		ConfigFile:            strings.TrimSpace(r.configFile),
		KafkaTopicPrefix:      strings.TrimSpace(r.kafkaTopicPrefix),
		UserEventsTopicPrefix: strings.TrimSpace(r.userEventsTopicPrefix),
		StubKind:              strings.TrimSpace(r.stubKind),
	}
	for _, c := range splitList(r.controllers) {
		u, err := parseHTTPURL(c)
		if err != nil {
			p.addf("%s: controller URL %q: %v", named(FlagControllers), c, err)
			continue
		}
		o.Controllers = append(o.Controllers, u)
	}
	if strings.TrimSpace(r.couchURL) != "" {
		u, err := parseHTTPURL(strings.TrimSpace(r.couchURL))
		if err != nil {
			// The URL may hold a password: do not echo it.
			p.addf("%s: %v", named(FlagCouchURL), err)
		} else {
			o.CouchURL = u
		}
	}
	if o.AdminTokenFile != "" {
		if o.AdminToken != "" {
			p.addf("set either %s or %s, not both", named(FlagAdminToken), named(FlagAdminTokenFile))
		} else if b, err := os.ReadFile(o.AdminTokenFile); err != nil {
			p.addf("%s: read the token: %v", named(FlagAdminTokenFile), err)
		} else {
			o.AdminToken = strings.TrimSpace(string(b))
			if o.AdminToken == "" {
				p.addf("%s: %s is empty", named(FlagAdminTokenFile), o.AdminTokenFile)
			}
		}
	}
	if err := o.LogLevel.UnmarshalText([]byte(strings.TrimSpace(r.logLevel))); err != nil {
		p.addf("%s: %q is not one of debug, info, warn, error", named(FlagLogLevel), r.logLevel)
	}
	if d, err := time.ParseDuration(strings.TrimSpace(r.shutdownTimeout)); err != nil {
		p.addf("%s: %q is not a duration such as 15s", named(FlagShutdownTimeout), r.shutdownTimeout)
		o.ShutdownTimeout = DefaultShutdownTimeout // reported above; not again
	} else {
		o.ShutdownTimeout = d
	}
	o.Storage = strings.ToLower(strings.TrimSpace(r.storage))
	o.StorageDir = strings.TrimSpace(r.storageDir)
	for _, n := range []struct {
		flag string
		v    string
		dst  *int
	}{{FlagRetention, r.retention, &o.Retention}, {FlagMaxMemory, r.maxMemory, &o.MaxMemoryMB}, {FlagMaxGPUNum, r.maxGPUNum, &o.MaxGPUNum}} {
		v, err := strconv.Atoi(strings.TrimSpace(n.v))
		if err != nil {
			p.addf("%s: %q is not a whole number", named(n.flag), n.v)
			continue
		}
		*n.dst = v
	}
	if d, err := time.ParseDuration(strings.TrimSpace(r.retireGrace)); err != nil {
		p.addf("%s: %q is not a duration such as 24h", named(FlagRetireGrace), r.retireGrace)
		o.RetireGrace = DefaultRetireGrace
	} else {
		o.RetireGrace = d
	}
	o.OptimizePolicy = strings.ToLower(strings.TrimSpace(r.optimizePolicy))
	if d, err := time.ParseDuration(strings.TrimSpace(r.probeMargin)); err != nil {
		p.addf("%s: %q is not a duration such as 30s", named(FlagProbeMargin), r.probeMargin)
		o.ProbeMargin = DefaultProbeMargin
	} else {
		o.ProbeMargin = d
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(r.throttleShare), 64); err != nil {
		p.addf("%s: %q is not a number such as 0.5", named(FlagThrottleShare), r.throttleShare)
		o.ThrottleShare = 0.5
	} else {
		o.ThrottleShare = f
	}
	hosts, err := parseHostengines(r.dcgmHostengines)
	if err != nil {
		p.addf("%s: %v", named(FlagDCGMHostengines), err)
	}
	o.DCGMHostengines = hosts
	if b, err := strconv.ParseBool(strings.TrimSpace(r.gatewayFailOpen)); err != nil {
		p.addf("%s: %q is not true or false", named(FlagGatewayFailOpen), r.gatewayFailOpen)
	} else {
		o.GatewayFailOpen = b
	}
	if d, err := time.ParseDuration(strings.TrimSpace(r.keyCacheTTL)); err != nil {
		p.addf("%s: %q is not a duration such as 25s", named(FlagKeyCacheTTL), r.keyCacheTTL)
		o.KeyCacheTTL = DefaultKeyCacheTTL
	} else {
		o.KeyCacheTTL = d
	}
	buildReplica(r, &o, &p)
	p = append(p, o.check()...)
	return o, p.err()
}

// Validate reports every problem with o, for Options built in code.
func (o Options) Validate() error { return o.check().err() }

func (o Options) check() problems {
	var p problems
	for _, a := range []struct{ flag, addr string }{{FlagAdminAddr, o.AdminAddr}, {FlagGatewayAddr, o.GatewayAddr}} {
		if err := checkListenAddr(a.addr); err != nil {
			p.addf("%s: %v", named(a.flag), err)
		}
	}
	if o.AdminAddr != "" && o.AdminAddr == o.GatewayAddr && !strings.HasSuffix(o.AdminAddr, ":0") {
		p.addf("%s and %s are both %s: they need different ports", named(FlagAdminAddr), named(FlagGatewayAddr), o.AdminAddr)
	}
	if len(o.Controllers) == 0 && !p.mentions(FlagControllers) {
		p.addf("%s: at least one controller URL is needed", named(FlagControllers))
	}
	if o.CouchURL == nil && !p.mentions(FlagCouchURL) {
		p.addf("%s: a CouchDB URL is needed", named(FlagCouchURL))
	}
	for _, pr := range []struct{ flag, v string }{{FlagOWDBPrefix, o.OWDBPrefix}, {FlagDBPrefix, o.DBPrefix}} {
		if !dbPrefixRE.MatchString(pr.v) {
			p.addf("%s: %q is not a CouchDB database name prefix (a lowercase letter, then a-z 0-9 _$()+-/)", named(pr.flag), pr.v)
		}
	}
	if o.OWDBPrefix != "" && o.OWDBPrefix == o.DBPrefix {
		p.addf("%s and %s are both %q: fnmgr's databases must not mix with OpenWhisk's", named(FlagOWDBPrefix), named(FlagDBPrefix), o.DBPrefix)
	}
	for _, b := range o.KafkaBrokers {
		if err := checkHostPort(b); err != nil {
			p.addf("%s: broker %q: %v", named(FlagKafkaBrokers), b, err)
		}
	}
	if o.AdminToken != "" && len(o.AdminToken) < MinAdminTokenLen {
		// Name the length, never the token.
		p.addf("%s: the admin token has %d characters; use at least %d", named(FlagAdminToken), len(o.AdminToken), MinAdminTokenLen)
	}
	if o.LogFormat != LogFormatJSON && o.LogFormat != LogFormatText {
		p.addf("%s: %q is not json or text", named(FlagLogFormat), o.LogFormat)
	}
	if o.ShutdownTimeout <= 0 {
		p.addf("%s: must be positive", named(FlagShutdownTimeout))
	}
	switch o.Storage {
	case StorageCouch:
	case StorageBucket:
		if o.StorageDir == "" {
			p.addf("%s: the bucket backend needs %s", named(FlagStorage), named(FlagStorageDir))
		}
	default:
		p.addf("%s: %q is not couch or bucket", named(FlagStorage), o.Storage)
	}
	if o.Retention < 1 {
		p.addf("%s: keep at least 1 revision", named(FlagRetention))
	}
	if o.MaxMemoryMB < 0 || (o.MaxMemoryMB > 0 && o.MaxMemoryMB%64 != 0) {
		p.addf("%s: %d MB must be 0 (from health pings) or a positive multiple of 64", named(FlagMaxMemory), o.MaxMemoryMB)
	}
	for _, pr := range []struct{ flag, v string }{{FlagKafkaTopicPrefix, o.KafkaTopicPrefix}, {FlagKafkaUserEventsTopicPrefix, o.UserEventsTopicPrefix}} {
		if pr.v != "" && !topicPrefixRE.MatchString(pr.v) {
			p.addf("%s: %q cannot start a Kafka topic name (letters, digits, '.', '_' and '-')", named(pr.flag), pr.v)
		}
	}
	if o.StubKind != "" && !kindRE.MatchString(o.StubKind) {
		p.addf("%s: %q is not a runtime kind such as nodejs:20", named(FlagStubKind), o.StubKind)
	}
	if o.MaxGPUNum < 0 {
		p.addf("%s: must not be negative", named(FlagMaxGPUNum))
	}
	switch o.OptimizePolicy {
	case "off", "new", "annotated":
	default:
		p.addf("%s: %q is not off, new or annotated", named(FlagOptimizePolicy), o.OptimizePolicy)
	}
	if o.KeyCacheTTL < 0 || o.KeyCacheTTL > MaxKeyCacheTTL {
		p.addf("%s: %v must be between 0 and %v (a revoked key must stop working within 30s)", named(FlagKeyCacheTTL), o.KeyCacheTTL, MaxKeyCacheTTL)
	}
	if o.RetireGrace < 0 {
		p.addf("%s: must not be negative", named(FlagRetireGrace))
	}
	if o.ProbeMargin <= 0 {
		p.addf("%s: must be positive", named(FlagProbeMargin))
	}
	if !(o.ThrottleShare > 0 && o.ThrottleShare <= 1) {
		p.addf("%s: %g must be above 0 and at most 1", named(FlagThrottleShare), o.ThrottleShare)
	}
	p = append(p, o.checkLease()...)
	if o.LogLevel < slog.LevelDebug || o.LogLevel > slog.LevelError {
		p.addf("%s: level %v is out of range", named(FlagLogLevel), o.LogLevel)
	}
	return p
}

func (p problems) mentions(flagName string) bool {
	for _, s := range p {
		if strings.Contains(s, "--"+flagName+" ") {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseHTTPURL accepts absolute http(s) URLs with a host. Its errors never
// repeat the URL (it may carry a password).
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("the scheme must be http or https")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("the URL has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("the URL must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func checkListenAddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("empty; use host:port such as 127.0.0.1:3235")
	}
	return checkHostPort(addr)
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host; fnmgr listens on 127.0.0.1 by default", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", addr)
	}
	return nil
}

// parseHostengines reads "node=host:port,node=host:port" (spaces allowed
// around the parts).
func parseHostengines(v string) (map[string]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(v, ",") {
		node, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		node, addr = strings.TrimSpace(node), strings.TrimSpace(addr)
		if !ok || node == "" || addr == "" {
			return nil, fmt.Errorf("%q is not node=host:port", part)
		}
		if err := checkHostPort(addr); err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		if _, dup := out[node]; dup {
			return nil, fmt.Errorf("node %s is named twice", node)
		}
		out[node] = addr
	}
	return out, nil
}
