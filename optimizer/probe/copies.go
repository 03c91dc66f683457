// Package probe is the optimizer's Fn Env Controller and Fn Tester: it
// writes temporary copies of an action with candidate limits (never
// touching the live action), invokes them through OpenWhisk's REST API,
// classifies every activation (the Fn Exec Analyzer's reading of duration,
// initTime, waitTime and status) and deletes the copies whatever happens.
//
// A copy of action name is the action name@fnmgr-probe-<run id>-<memory>
// in the same package, with the live action's code, parameters and
// annotations, the annotation fnmgr-probe: <run id>, and the candidate
// limits. A crash of fnmgr leaves copies behind; Sweep deletes them.
package probe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// DocID is the whisks document id of function name of namespace ns
// ("guest/hello", "guest/pkg/hello"), as OpenWhisk's FullyQualifiedEntityName
// (common/scala/src/main/scala/org/apache/openwhisk/core/entity/FullyQualifiedEntityName.scala)
// spells it.
func DocID(ns, name string) string { return ns + "/" + name }

// ActionPath splits a function name into the action document's namespace
// field and name field: ("guest", "pkg/hello") → ("guest/pkg", "hello").
func ActionPath(ns, name string) (docNamespace, docName string) {
	if pkg, n, ok := strings.Cut(name, "/"); ok {
		return ns + "/" + pkg, n
	}
	return ns, name
}

// Annotation marks a probe copy; its value is the run id.
const Annotation = "fnmgr-probe"

// nameInfix separates the function name from the run id in a copy's name.
const nameInfix = "@fnmgr-probe-"

// Name is the action name of the copy of action base (the last path
// element) for run id at memoryMB.
func Name(base, runID string, memoryMB int) string {
	return base + nameInfix + runID + "-" + strconv.Itoa(memoryMB)
}

// IsProbeName reports whether an action name is shaped like a probe copy.
func IsProbeName(name string) bool { return strings.Contains(name, nameInfix) }

// IsProbe reports whether action a is a probe copy (by its annotation).
func IsProbe(a entity.Action) bool {
	_, ok := a.Annotations.Get(Annotation)
	return ok
}

// Actions is OpenWhisk's action store as the probes use it;
// plugin/openwhisk.Actions implements it (CouchDB plus cache
// invalidation). It must be safe for concurrent use.
type Actions interface {
	Get(ctx context.Context, docid string) (entity.Action, error)
	Code(ctx context.Context, a entity.Action) ([]byte, error)
	Put(ctx context.Context, a entity.Action, code []byte) (entity.Action, error)
	Delete(ctx context.Context, docid string) error
}

// Limits are the settings a copy runs with.
type Limits struct {
	MemoryMB int
	// GPU settings, written as the annotations a GPU-aware invoker reads
	// (nil: as on the live action).
	GPUNum, GPUMemorySize, GPUPercentage *int
}

// GPU annotation keys (as plugin/versions writes them).
const (
	AnnotationGPUNum        = "gpuNum"
	AnnotationGPUMemorySize = "gpuMemorySize"
	AnnotationGPUPercentage = "gpuPercentage"
)

// Copies makes and removes the probe copies of one function for one run.
// It is safe for concurrent use.
type Copies struct {
	actions Actions
	ns      string
	name    string // function name: "hello" or "pkg/hello"
	runID   string
	live    entity.Action
	code    []byte

	mu   sync.Mutex
	made map[string]string // key → docid
}

// ErrNotCopyable is returned for actions a copy cannot be made of.
var ErrNotCopyable = errors.New("probe: the action cannot be probed")

// NewCopies reads the live action ns/name and its code once; every copy is
// made from that snapshot.
func NewCopies(ctx context.Context, actions Actions, ns, name, runID string) (*Copies, error) {
	live, err := actions.Get(ctx, DocID(ns, name))
	if err != nil {
		return nil, fmt.Errorf("probe: read %s/%s: %w", ns, name, err)
	}
	if live.Exec.Kind == entity.KindSequence {
		return nil, fmt.Errorf("probe: %s/%s is a sequence; its components carry the limits: %w", ns, name, ErrNotCopyable)
	}
	code, err := actions.Code(ctx, live)
	if err != nil {
		return nil, fmt.Errorf("probe: code of %s/%s: %w", ns, name, err)
	}
	return &Copies{actions: actions, ns: ns, name: name, runID: runID, live: live, code: code, made: map[string]string{}}, nil
}

// Live is the action the copies are made from.
func (c *Copies) Live() entity.Action { return c.live.Clone() }

// key names a copy by its limits.
func (l Limits) key() string {
	k := strconv.Itoa(l.MemoryMB)
	for _, p := range []*int{l.GPUNum, l.GPUMemorySize, l.GPUPercentage} {
		if p != nil {
			k += "-" + strconv.Itoa(*p)
		}
	}
	return k
}

// Ensure writes the copy with limits l unless it exists already and
// returns the action path to invoke ("name@…" or "pkg/name@…").
func (c *Copies) Ensure(ctx context.Context, l Limits) (string, error) {
	docNS, base := ActionPath(c.ns, c.name)
	copyName := Name(base, c.runID, l.MemoryMB)
	if k := l.key(); k != strconv.Itoa(l.MemoryMB) {
		copyName = base + nameInfix + c.runID + "-" + k
	}
	path := copyName
	if pkg, _, ok := strings.Cut(c.name, "/"); ok {
		path = pkg + "/" + copyName
	}
	c.mu.Lock()
	_, done := c.made[l.key()]
	c.mu.Unlock()
	if done {
		return path, nil
	}
	a := c.live.Clone()
	a.DocMeta = entity.DocMeta{}
	a.Namespace, a.Name = docNS, copyName
	a.Limits.Memory = l.MemoryMB
	a.Annotations = a.Annotations.With(Annotation, c.runID)
	for key, v := range map[string]*int{AnnotationGPUNum: l.GPUNum, AnnotationGPUMemorySize: l.GPUMemorySize,
		AnnotationGPUPercentage: l.GPUPercentage} {
		if v != nil {
			a.Annotations = a.Annotations.With(key, *v)
		}
	}
	if c.code != nil && a.Exec.Code == nil {
		a.Exec.Code = &entity.Code{}
	}
	// Recorded before the write: a copy half-written is still removed.
	c.mu.Lock()
	c.made[l.key()] = a.FQN()
	c.mu.Unlock()
	if _, err := c.actions.Put(ctx, a, c.code); err != nil {
		return "", fmt.Errorf("probe: write copy %s: %w", a.FQN(), err)
	}
	return path, nil
}

// Remove deletes every copy made, even when ctx is cancelled (it runs
// under a context without cancellation of its own; the caller bounds it
// with a deadline).
func (c *Copies) Remove(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	c.mu.Lock()
	ids := make([]string, 0, len(c.made))
	for _, id := range c.made {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := c.actions.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("probe: delete copy %s: %w", id, err))
			continue
		}
		c.mu.Lock()
		for k, v := range c.made {
			if v == id {
				delete(c.made, k)
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Lister lists the document ids of the whisks database.
type Lister interface {
	IDs(ctx context.Context) ([]string, error)
}

// Sweep deletes every probe copy left in the whisks database (after a
// crash): documents whose name is shaped like a copy and that carry the
// fnmgr-probe annotation (a user's action that merely looks like one is
// left alone). keep, when set, spares the copies of runs still going. It
// returns the ids deleted.
func Sweep(ctx context.Context, l Lister, actions Actions, keep func(runID string) bool) ([]string, error) {
	ids, err := l.IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("probe: list actions: %w", err)
	}
	var deleted []string
	var errs []error
	for _, id := range ids {
		if !IsProbeName(id) {
			continue
		}
		a, err := actions.Get(ctx, id)
		if err != nil || !IsProbe(a) {
			continue
		}
		if run, _ := a.Annotations.String(Annotation); keep != nil && keep(run) {
			continue
		}
		if err := actions.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("probe: delete leftover copy %s: %w", id, err))
			continue
		}
		deleted = append(deleted, id)
	}
	return deleted, errors.Join(errs...)
}
