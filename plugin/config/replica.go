package config

import (
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// buildReplica fills in the leader election's settings: the replica id
// (the host name by default, which is the pod's name on Kubernetes), the
// advertised admin URL and the lease's durations.
func buildReplica(r raw, o *Options, p *problems) {
	o.ReplicaID = strings.TrimSpace(r.replicaID)
	if o.ReplicaID == "" {
		o.ReplicaID, _ = os.Hostname()
	}
	if s := strings.TrimSpace(r.advertiseAdmin); s != "" {
		u, err := parseHTTPURL(s)
		if err != nil {
			p.addf("%s: %v", named(FlagAdvertiseAdmin), err)
		} else {
			o.AdvertiseAdminURL = u
		}
	}
	for _, d := range []struct {
		flag, v string
		dst     *time.Duration
	}{{FlagLeaseTTL, r.leaseTTL, &o.LeaseTTL}, {FlagLeaseRenew, r.leaseRenew, &o.LeaseRenew}, {FlagLeaseSkew, r.leaseSkew, &o.LeaseSkew}} {
		v, err := time.ParseDuration(strings.TrimSpace(d.v))
		if err != nil {
			p.addf("%s: %q is not a duration such as 5s", named(d.flag), d.v)
			continue
		}
		*d.dst = v
	}
}

// checkLease checks the lease's settings against each other: the leader
// must renew at least twice within a lease and keep a margin before it
// could be taken, or a single slow renewal would cost it the lead.
func (o Options) checkLease() problems {
	var p problems
	if o.ReplicaID == "" || len(o.ReplicaID) > 253 || strings.ContainsAny(o.ReplicaID, " \t\r\n\"") {
		p.addf("%s: %q must be 1 to 253 characters without spaces or quotes", named(FlagReplicaID), o.ReplicaID)
	}
	if o.LeaseTTL <= 0 || o.LeaseRenew <= 0 || o.LeaseSkew < 0 {
		p.addf("%s, %s and %s must be positive", named(FlagLeaseTTL), named(FlagLeaseRenew), named(FlagLeaseSkew))
		return p
	}
	if 2*o.LeaseRenew+o.LeaseSkew > o.LeaseTTL {
		p.addf("%s (%v) must be at least twice %s (%v) plus %s (%v)", named(FlagLeaseTTL), o.LeaseTTL,
			named(FlagLeaseRenew), o.LeaseRenew, named(FlagLeaseSkew), o.LeaseSkew)
	}
	return p
}

// AdminURL is where the other replicas reach this replica's admin API:
// AdvertiseAdminURL when set, else http://<host name>:<port> with the port
// of bound (the admin server's bound address).
func (o Options) AdminURL(bound string) string {
	if o.AdvertiseAdminURL != nil {
		return strings.TrimSuffix(o.AdvertiseAdminURL.String(), "/")
	}
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}).String()
}
