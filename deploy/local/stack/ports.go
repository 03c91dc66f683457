package stack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// host is the only address the stack listens on.
const host = "127.0.0.1"

// portSpec is one port the stack needs, named the way a user changes it.
type portSpec struct {
	what string // "the API host (controller 0)"
	flag string // "--apihost-port (OW_APIHOST_PORT)"
	port int    // 0: pick one
}

// ports are the resolved ports of one run.
type ports struct {
	controllers []int
	gateway     int
	admin       int
	couchdb     int
	kafka       int
}

// resolvePorts checks every port before anything starts: a port asked for
// twice or already in use is an error naming it and its flag. Ports given
// as 0 are picked free (all different). Controllers take consecutive ports
// from the API host port.
func resolvePorts(o Options) (ports, error) {
	var specs []portSpec
	for i := range o.Controllers {
		s := portSpec{what: "the API host (controller 0)", flag: named(flagAPIHostPort)}
		if o.APIHostPort != 0 {
			s.port = o.APIHostPort + i
		}
		if i > 0 {
			s.what = fmt.Sprintf("controller %d", i)
			s.flag = fmt.Sprintf("%s + %d", named(flagAPIHostPort), i)
		}
		specs = append(specs, s)
	}
	specs = append(specs,
		portSpec{what: "fnmgr's gateway", flag: named(flagGatewayPort), port: o.GatewayPort},
		portSpec{what: "fnmgr's admin API", flag: named(flagAdminPort), port: o.AdminPort},
		portSpec{what: "CouchDB", flag: named(flagCouchDBPort), port: o.CouchDBPort},
		portSpec{what: "Kafka", flag: named(flagKafkaPort), port: o.KafkaPort},
	)

	var errs []error
	claimed := map[int]portSpec{}
	var held []net.Listener // held until every free port is picked
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for _, s := range specs {
		if s.port == 0 {
			continue
		}
		if s.port < 0 || s.port > 65535 {
			errs = append(errs, fmt.Errorf("stack: port %d for %s (%s) is not 1-65535", s.port, s.what, s.flag))
			continue
		}
		if prev, ok := claimed[s.port]; ok {
			errs = append(errs, fmt.Errorf("stack: port %d is wanted by both %s (%s) and %s (%s); give them different ports",
				s.port, prev.what, prev.flag, s.what, s.flag))
			continue
		}
		claimed[s.port] = s
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				errs = append(errs, fmt.Errorf("stack: port %d for %s is already in use on %s; stop what uses it or choose another port with %s",
					s.port, s.what, host, s.flag))
			} else {
				errs = append(errs, fmt.Errorf("stack: port %d for %s (%s): %w", s.port, s.what, s.flag, err))
			}
			continue
		}
		held = append(held, l)
	}
	if len(errs) > 0 {
		return ports{}, errors.Join(errs...)
	}
	out := make([]int, len(specs))
	for i, s := range specs {
		if s.port != 0 {
			out[i] = s.port
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return ports{}, fmt.Errorf("stack: pick a free port for %s: %w", s.what, err)
		}
		held = append(held, l)
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	n := o.Controllers
	return ports{controllers: out[:n], gateway: out[n], admin: out[n+1], couchdb: out[n+2], kafka: out[n+3]}, nil
}

func hostPort(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func httpURL(port int) string { return "http://" + hostPort(port) }
