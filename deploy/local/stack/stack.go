package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/deploy/local/controller"
	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
	"github.com/fnmgr/fnmgr/deploy/local/invoker"
)

// Stack is a running local stack. Its methods are safe for concurrent use.
type Stack struct {
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	started     bool
	td          teardowns
	ports       ports
	endpoints   Endpoints
	couch       *couchdb.Server
	broker      *broker.Broker
	invokers    []*invoker.Invoker
	controllers []*controller.Controller // nil entries are stopped
	fnmgr       *fnmgrProc               // nil while stopped
	fnmgrSpec   fnmgrSpec
	replicas    *replicaSet // with FnmgrReplicas > 1 (replicas.go)
}

// New validates o. It starts nothing.
func New(o Options) (*Stack, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Stack{opts: o, log: o.Logger.With("component", "stack")}, nil
}

// Start checks every port, then starts each part in order and waits until
// it is ready, and finally writes endpoints.json. If a part fails, the
// parts already started are stopped again before Start returns the error.
func (s *Stack) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("stack: Start called twice")
	}
	s.started = true
	defer func() {
		if err != nil {
			s.log.Info("start failed; stopping what started")
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StopTimeout+s.opts.StartTimeout)
			defer cancel()
			if uerr := s.td.run(uctx); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}()
	o := s.opts
	if s.ports, err = resolvePorts(o); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("stack: create %s: %w", o.Dir, err)
	}
	endpointsPath := filepath.Join(o.Dir, EndpointsFile)
	if err := removeEndpoints(endpointsPath); err != nil { // a crashed run's
		return err
	}

	// 1. CouchDB.
	s.couch, err = couchdb.Start(ctx, couchdb.Options{
		Dir: filepath.Join(o.Dir, "couchdb"), Port: s.ports.couchdb, Logger: o.Logger, StartTimeout: o.StartTimeout,
	})
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	s.td.add("couchdb", s.couch.Stop)

	// 2. Kafka.
	s.broker, err = broker.Start(ctx, broker.Options{
		Port: s.ports.kafka, Topics: broker.PrefixedTopics(o.Invokers, o.Controllers, o.KafkaTopicPrefix, o.KafkaUserEventsTopicPrefix), Logger: o.Logger,
		Dir: filepath.Join(o.Dir, "kafka"),
	})
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	s.td.add("kafka", func(context.Context) error { s.broker.Stop(); return nil })

	// 3. Databases, design documents, the guest subject.
	guestAuth, err := seedDatabases(ctx, s.couch.URL(), o.guestThrottles(), o.Logger)
	if err != nil {
		return err
	}

	apihost := httpURL(s.ports.controllers[0])
	s.endpoints = Endpoints{
		APIHost:    apihost,
		Gateway:    httpURL(s.ports.gateway),
		Admin:      httpURL(s.ports.admin),
		CouchDB:    s.couch.URL(),
		Kafka:      s.broker.Addrs(),
		Namespace:  Namespace,
		Auth:       guestAuth,
		AdminToken: o.AdminToken,
		Profile:    o.Profile,

		KafkaTopicPrefix:           o.KafkaTopicPrefix,
		KafkaUserEventsTopicPrefix: o.KafkaUserEventsTopicPrefix,
	}

	// 4. Invokers.
	if err := s.startInvokers(ctx); err != nil {
		return err
	}

	// 5. Controllers.
	s.controllers = make([]*controller.Controller, o.Controllers)
	for i := range o.Controllers {
		if err := s.startControllerLocked(ctx, i); err != nil {
			return err
		}
	}
	s.td.add("controllers", func(ctx context.Context) error {
		var errs []error
		for i := len(s.controllers) - 1; i >= 0; i-- {
			errs = append(errs, s.stopControllerLocked(ctx, i))
		}
		return errors.Join(errs...)
	})

	// 6. fnmgr: one process on the gateway and admin ports, or several
	// replicas behind nginx there (replicas.go).
	if o.FnmgrReplicas > 1 {
		if err := s.startReplicasLocked(ctx); err != nil {
			return err
		}
		return s.finishStart(endpointsPath)
	}
	s.fnmgrSpec = fnmgrSpec{
		bin:         o.FnmgrBin,
		env:         fnmgrEnv(os.Environ(), s.endpoints, s.controllerURLs(), s.couch.URL(), topicEnv(o)),
		adminURL:    s.endpoints.Admin,
		gatewayAddr: hostPort(s.ports.gateway),
		logPath:     filepath.Join(o.Dir, FnmgrLogFile),
	}
	if err := s.startFnmgrLocked(ctx); err != nil {
		return err
	}
	s.td.add("fnmgr", s.stopFnmgrLocked)
	return s.finishStart(endpointsPath)
}

// finishStart writes endpoints.json once every part is ready.
func (s *Stack) finishStart(endpointsPath string) error {
	o := s.opts
	if err := writeEndpoints(endpointsPath, s.endpoints); err != nil {
		return err
	}
	s.td.add(EndpointsFile, func(context.Context) error { return removeEndpoints(endpointsPath) })
	s.log.Info("local stack ready", "endpoints", endpointsPath)
	printSummary(o.Console, o.Dir, s.endpoints)
	return nil
}

func (s *Stack) startInvokers(ctx context.Context) error {
	o := s.opts
	work := filepath.Join(o.Dir, "actionrt")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("stack: create %s: %w", work, err)
	}
	// What a killed run on this directory left (issue #16 item 7), and, once
	// the invokers stopped, whatever a worker still exiting left behind.
	prefix := CgroupPrefix(o.Dir)
	if err := actionrt.RemoveCgroups(ctx, prefix); err != nil {
		return fmt.Errorf("stack: stale cgroups: %w", err)
	}
	s.td.add("cgroups", func(ctx context.Context) error { return actionrt.RemoveCgroups(ctx, prefix) })
	for i := range o.Invokers {
		inv, err := invoker.New(ctx, invoker.Options{
			ID: i, CouchURL: s.couch.URL(), DBPrefix: DBPrefix, Brokers: s.broker.Addrs(),
			UserMemoryMB: o.UserMemoryMB, CgroupName: cgroupName(o.Dir, i), APIHost: s.endpoints.APIHost,
			UserEvents: o.prof.UserEvents, NoPings: !o.prof.HealthPings, CPUShares: o.prof.CPUShares,
			TopicPrefix: o.KafkaTopicPrefix, UserEventTopicPrefix: o.KafkaUserEventsTopicPrefix,
			Limits: o.Limits.Ranges,
			Kinds:  o.prof.Kinds(), WorkDir: work, Logger: o.Logger,
		})
		if err != nil {
			return fmt.Errorf("stack: invoker %d: %w", i, err)
		}
		// Stop closes the action pool: no worker or cgroup is left.
		s.td.add("invoker "+strconv.Itoa(i), inv.Stop)
		if err := inv.Start(ctx); err != nil {
			return fmt.Errorf("stack: invoker %d: %w", i, err)
		}
		s.invokers = append(s.invokers, inv)
	}
	return nil
}

// CgroupPrefix starts the name of the parent cgroup of every invoker of
// the stack in dir (an absolute path): unique to the directory, so that
// stacks running side by side (tests) never share workers' cgroups, while a
// run after a crash, on the same directory, cleans up what the crash left.
func CgroupPrefix(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return "fnmgr-local-" + hex.EncodeToString(h[:4]) + "-"
}

func cgroupName(dir string, invoker int) string {
	return CgroupPrefix(dir) + "invoker" + strconv.Itoa(invoker)
}

func (s *Stack) controllerURLs() []string {
	urls := make([]string, len(s.ports.controllers))
	for i, p := range s.ports.controllers {
		urls[i] = httpURL(p)
	}
	return urls
}

// Endpoints returns what endpoints.json holds (valid after Start).
func (s *Stack) Endpoints() Endpoints {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints
	e.Kafka = append([]string(nil), e.Kafka...)
	return e
}

// Stop removes endpoints.json and stops every part in reverse order of
// start, fnmgr first. ctx bounds the whole stop.
func (s *Stack) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Info("stopping the local stack")
	err := s.td.run(ctx)
	if err == nil {
		s.log.Info("local stack stopped")
	}
	return err
}

// KillActions kills every action worker of the stack and removes its
// cgroups at once, without waiting for anything: the last resort of a
// process about to exit before Stop finished (a second Ctrl-C). It is safe
// to call while Stop runs.
func (s *Stack) KillActions() error {
	return actionrt.RemoveCgroups(context.Background(), CgroupPrefix(s.opts.Dir))
}
