package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
)

// Errors of the controller set; callers branch on them with errors.Is.
var (
	ErrNoController      = errors.New("gateway: at least one controller is needed")
	ErrInvalidController = errors.New("gateway: invalid controller URL")
	ErrControllerExists  = errors.New("gateway: the controller is already in the set")
	ErrUnknownController = errors.New("gateway: no such controller")
)

// SetControllers replaces the controllers (on a configuration reload).
// Requests already on their way finish on the controller they picked,
// even a removed one; a controller that stays keeps its health; a new one
// starts healthy and is checked at once. Removed controllers' metrics are
// dropped.
func (g *Gateway) SetControllers(urls []*url.URL) error {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	if len(urls) == 0 {
		return ErrNoController
	}
	seen := map[string]bool{}
	for _, u := range urls {
		if err := checkURL(u); err != nil {
			return err
		}
		k := key(u)
		if seen[k] {
			return fmt.Errorf("%w: %s is listed twice", ErrControllerExists, u.Redacted())
		}
		seen[k] = true
	}
	old := g.upstreams.Load()
	next := &upstreamSet{}
	added := false
	for _, u := range urls {
		if up := old.find(key(u)); up != nil {
			next.list = append(next.list, up)
			continue
		}
		next.list = append(next.list, newUpstream(u, g.metrics, g.log))
		added = true
	}
	g.swap(old, next)
	if added && g.health != nil {
		g.health.kick()
	}
	return nil
}

// AddController adds one controller (admin API).
func (g *Gateway) AddController(u *url.URL) error {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	if err := checkURL(u); err != nil {
		return err
	}
	old := g.upstreams.Load()
	if old.find(key(u)) != nil {
		return fmt.Errorf("%w: %s", ErrControllerExists, u.Redacted())
	}
	next := &upstreamSet{list: append(slices.Clip(old.list), newUpstream(u, g.metrics, g.log))}
	g.swap(old, next)
	if g.health != nil {
		g.health.kick()
	}
	return nil
}

// RemoveController removes one controller (admin API); its requests in
// flight finish. The last controller cannot be removed.
func (g *Gateway) RemoveController(u *url.URL) error {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	if u == nil {
		return fmt.Errorf("%w: no URL", ErrInvalidController)
	}
	old := g.upstreams.Load()
	up := old.find(key(u))
	if up == nil {
		return fmt.Errorf("%w: %s", ErrUnknownController, u.Redacted())
	}
	if len(old.list) == 1 {
		return fmt.Errorf("%w: %s is the last one", ErrNoController, u.Redacted())
	}
	next := &upstreamSet{}
	for _, o := range old.list {
		if o != up {
			next.list = append(next.list, o)
		}
	}
	g.swap(old, next)
	return nil
}

// swap installs next and drops the metrics of controllers it lacks.
// Callers hold setMu.
func (g *Gateway) swap(old, next *upstreamSet) {
	g.upstreams.Store(next)
	if old == nil {
		return
	}
	for _, up := range old.list {
		if !contains(next.list, up) {
			g.metrics.forget(up.Name)
			g.log.Info("controller removed; its requests in flight finish", "controller", up.Name,
				"in_flight", up.inFlight.Load())
		}
	}
	for _, up := range next.list {
		if !contains(old.list, up) {
			g.log.Info("controller added", "controller", up.Name)
		}
	}
}

// Upstreams returns the current controllers.
func (g *Gateway) Upstreams() []*Upstream {
	return slices.Clone(g.upstreams.Load().list)
}

// Controllers returns the current controllers and their health, in order.
func (g *Gateway) Controllers() []Status {
	list := g.upstreams.Load().list
	out := make([]Status, len(list))
	for i, up := range list {
		out[i] = up.status()
	}
	return out
}
