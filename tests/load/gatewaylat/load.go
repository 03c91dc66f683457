package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// actionName is the action both paths invoke.
const actionName = "gatewaylat-echo"

// actionCode answers at once: what is measured is the path to it.
const actionCode = `function main(p) { return { ok: true, n: p.n || 0 }; }`

// load invokes the action directly and through the gateway.
type load struct {
	eps         stack.Endpoints
	concurrency int
	client      *http.Client
	uuid, key   string
}

func newLoad(eps stack.Endpoints, concurrency int) *load {
	uuid, key, _ := strings.Cut(eps.Auth, ":")
	return &load{eps: eps, concurrency: concurrency, uuid: uuid, key: key, client: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        4 * concurrency,
			MaxIdleConnsPerHost: 2 * concurrency,
			DisableCompression:  true,
		},
	}}
}

// path of the action on either host, as wsk calls it.
func (l *load) url(host string) string {
	return host + "/api/v1/namespaces/_/actions/" + actionName + "?blocking=true&result=true"
}

// call invokes the action once on host and returns how long it took.
func (l *load) call(ctx context.Context, host string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url(host), strings.NewReader(`{"n":1}`))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(l.uuid, l.key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %d", host, resp.StatusCode)
	}
	return d, nil
}

// prepare creates the action (at the API host) and calls it once on each
// path.
func (l *load) prepare(ctx context.Context) error {
	body := fmt.Sprintf(`{"exec":{"kind":"nodejs:default","code":%q}}`, actionCode)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		l.eps.APIHost+"/api/v1/namespaces/_/actions/"+actionName+"?overwrite=true", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(l.uuid, l.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("create the action: %w", err)
	}
	drain(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create the action: the API host answered %d", resp.StatusCode)
	}
	for _, host := range []string{l.eps.APIHost, l.eps.Gateway} {
		if _, err := l.call(ctx, host); err != nil {
			return fmt.Errorf("first call: %w", err)
		}
	}
	return nil
}

// result is one measured run.
type result struct {
	direct, gateway []time.Duration
	// diffs are, per pair, the gateway call's time minus the direct one's
	// (the two calls of a pair run back to back on one worker).
	diffs    []time.Duration
	failures int
	lastErr  error
	elapsed  time.Duration
}

// run keeps concurrency calls in flight for d (or until maxCalls calls):
// each worker alternates a direct call and a gateway call, the order
// flipping every pair, so both paths see the same load at the same time.
func (l *load) run(ctx context.Context, d time.Duration, maxCalls int) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu    sync.Mutex
		res   result
		calls atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for w := range l.concurrency {
		wg.Go(func() {
			var direct, through, diffs []time.Duration
			failures := 0
			var lastErr error
			for i := 0; ctx.Err() == nil; i++ {
				if calls.Add(2) > int64(maxCalls) {
					break
				}
				first, second := l.eps.APIHost, l.eps.Gateway
				if (i+w)%2 == 1 {
					first, second = second, first
				}
				d1, err1 := l.call(ctx, first)
				d2, err2 := l.call(ctx, second)
				if ctx.Err() != nil {
					break // cut off by the end of the run: not a failure
				}
				if err1 != nil || err2 != nil {
					failures++
					lastErr = err1
					if lastErr == nil {
						lastErr = err2
					}
					continue
				}
				if first == l.eps.Gateway {
					d1, d2 = d2, d1
				}
				direct, through, diffs = append(direct, d1), append(through, d2), append(diffs, d2-d1)
			}
			mu.Lock()
			res.direct = append(res.direct, direct...)
			res.gateway = append(res.gateway, through...)
			res.diffs = append(res.diffs, diffs...)
			res.failures += failures
			if lastErr != nil {
				res.lastErr = lastErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if len(res.direct) == 0 {
		return res, fmt.Errorf("%w: no call succeeded (%d failed; last: %v)", errFailed, res.failures, res.lastErr)
	}
	return res, nil
}
