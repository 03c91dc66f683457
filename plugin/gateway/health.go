package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// checker runs the active health checks: every interval, GET / on every
// controller, each bounded by timeout. A 2xx answer makes a controller
// healthy; anything else, or no answer in time, ejects it. Passive
// ejection (balancer) needs one passing check to be undone.
type checker struct {
	g        *Gateway
	interval time.Duration
	timeout  time.Duration
	client   *http.Client
	kicks    chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newChecker(g *Gateway, interval, timeout time.Duration) *checker {
	return &checker{
		g: g, interval: interval, timeout: timeout,
		// Its own connections: probes never wait behind proxied requests.
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     3 * interval,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		kicks: make(chan struct{}, 1),
	}
}

func (c *checker) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return errors.New("gateway: Start called twice")
	}
	c.done = make(chan struct{})
	if c.interval < 0 {
		close(c.done)
		return nil
	}
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(c.done)
		c.run(ctx)
	}()
	return nil
}

func (c *checker) stop(ctx context.Context) error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if done == nil {
		return nil
	}
	if cancel != nil {
		cancel()
	}
	defer c.client.CloseIdleConnections()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: health checks did not stop: %w", ctx.Err())
	}
}

// kick asks for a round now (a controller was added).
func (c *checker) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

func (c *checker) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kicks:
		}
	}
}

// round checks every current controller at once and waits for all.
func (c *checker) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, up := range c.g.upstreams.Load().list {
		wg.Go(func() {
			outcome, ok := c.probe(ctx, up)
			if ctx.Err() != nil {
				return // stopping: the outcome means nothing
			}
			if ok {
				up.markHealthy(outcome)
				return
			}
			up.checked(outcome)
		})
	}
	wg.Wait()
}

// probe sends GET / and says how it went, in words safe to show.
func (c *checker) probe(ctx context.Context, up *Upstream) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *up.URL
	u.Path, u.RawPath = up.basePath+"/", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "invalid URL", false
	}
	req.Header.Set("User-Agent", "fnmgr-gateway-health-check")
	resp, err := c.client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Sprintf("no answer within %s", c.timeout), false
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused", false
		default:
			return "connection error", false
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Sprintf("GET / answered %d", resp.StatusCode), false
	}
	return fmt.Sprintf("GET / answered %d", resp.StatusCode), true
}
