package actionrt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// OpenWhisk ActivationResponse status codes.
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2
	StatusWhiskError       = 3
)

// OpenWhisk's messages for failed activations (ErrorResponse.scala Messages).
const (
	msgOOM            = "The action exhausted its memory and was aborted."
	msgInitExited     = "The action did not initialize and exited unexpectedly."
	msgRunExited      = "The action did not produce a valid response and exited unexpectedly."
	msgInitFailed     = "The action failed during initialization: "
	msgInvalidJSON    = "The action did not produce a valid JSON or JSON Array response: "
	msgTimeout        = "The action exceeded its time limits of %d milliseconds."
	msgInitTimeout    = "The action exceeded its time limits of %d milliseconds during initialization."
	msgTruncated      = "The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: %s"
	msgBadArchive     = "There was an error uncompressing the action archive."
	defaultTimeout    = time.Minute
	defaultMemoryMB   = 256
	maxUnzippedFactor = 4 // unpacked code may use up to 4x the action memory on disk
)

// errTimeout is the action's own time limit, not the caller's context.
var errTimeout = errors.New("action time limit exceeded")

// Action is one action revision to run.
type Action struct {
	Key      string // reuse key: a worker is reused only for an equal Key
	Kind     string // "nodejs:20", "python:3", ...: the family before ':' picks node or python (the local binary serves every version)
	Code     []byte // source text, or zip bytes when Binary
	Binary   bool
	Main     string // entry function, default "main"
	MemoryMB int    // default 256
	Timeout  time.Duration
	Env      map[string]string // __OW_* environment of the run; values are secrets and never logged
	// LogLimitBytes caps the activation's logs (OpenWhisk limits.logs);
	// 0 means DefaultLogLimitBytes.
	LogLimitBytes int
}

// Result is the outcome of one activation.
type Result struct {
	StatusCode int             // StatusSuccess ... StatusWhiskError
	Result     json.RawMessage // a JSON object, or an array for array results
	Logs       []string        // "<time padded to 30> stdout: text", like DockerToActivationLogStore
	Start, End time.Time       // Start includes worker creation and init on a cold start
	InitTime   time.Duration   // > 0 only on a cold start
	WaitTime   time.Duration   // time spent waiting for free pool memory
	TimedOut   bool
	OOM        bool
}

func (a Action) withDefaults() Action {
	if a.Main == "" {
		a.Main = "main"
	}
	if a.MemoryMB <= 0 {
		a.MemoryMB = defaultMemoryMB
	}
	if a.Timeout <= 0 {
		a.Timeout = defaultTimeout
	}
	if a.LogLimitBytes <= 0 {
		a.LogLimitBytes = DefaultLogLimitBytes
	}
	return a
}

type initRequest struct {
	Op     string `json:"op"`
	Main   string `json:"main"`
	Code   string `json:"code,omitempty"`
	Binary bool   `json:"binary"`
	Dir    string `json:"dir,omitempty"`
}

type runRequest struct {
	Op    string            `json:"op"`
	Value json.RawMessage   `json:"value"`
	Env   map[string]string `json:"env"`
}

// Run runs one activation of a with params (a JSON object; nil means
// {}), on a warm worker with the same Key or a new one. The error is
// only for internal failures (ErrClosed, ErrUnsupportedKind,
// ErrTooLarge, a proxy that cannot start, ctx done); everything the
// action did wrong is in the Result.
func (p *Pool) Run(ctx context.Context, a Action, params json.RawMessage) (Result, error) {
	a = a.withDefaults()
	family, _, _ := strings.Cut(a.Kind, ":")
	proxy, ok := p.proxies[family]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrUnsupportedKind, a.Kind)
	}
	bin := p.opts.NodeBinary
	if family == "python" {
		bin = p.opts.PythonBinary
	}
	if a.MemoryMB > p.opts.UserMemoryMB {
		return Result{}, fmt.Errorf("%w: %d MB > %d MB", ErrTooLarge, a.MemoryMB, p.opts.UserMemoryMB)
	}
	if len(params) == 0 {
		params = json.RawMessage("{}")
	} else if !json.Valid(params) {
		return Result{}, errors.New("actionrt: run: params are not valid JSON")
	}
	if err := p.enter(); err != nil {
		return Result{}, err
	}
	defer p.leave()

	t0 := time.Now()
	w, cold, err := p.acquire(ctx, a.Key, a.MemoryMB)
	if err != nil {
		return Result{}, err
	}
	res := Result{Start: time.Now()}
	res.WaitTime = res.Start.Sub(t0)
	w.logs.begin(a.LogLimitBytes)
	keep, err := p.activate(ctx, w, a, []string{bin, proxy}, params, cold, &res)
	why := "logs incomplete"
	switch {
	case err != nil:
		why = "internal error"
	case res.StatusCode == StatusDeveloperError:
		why = "developer error"
	}
	p.release(w, keep && err == nil, why)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func (p *Pool) enter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.inflight++
	return nil
}

func (p *Pool) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	p.notifyLocked()
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// activate runs init (when cold) and the activation on w, filling res.
// keep says whether w may stay warm.
func (p *Pool) activate(ctx context.Context, w *worker, a Action, argv []string, params json.RawMessage, cold bool, res *Result) (keep bool, err error) {
	if cold {
		if err := w.start(ctx, argv, p.baseEnv, p.cg, p.cpusFor(a.MemoryMB)); err != nil {
			return false, p.bootFailed(ctx, w, res, err)
		}
		go p.watch(w)
		p.log.Debug("worker started", "worker", w.id, "pid", w.pid(), "key", a.Key, "memoryMB", a.MemoryMB)
		req := initRequest{Op: "init", Main: a.Main, Binary: a.Binary}
		if a.Binary {
			req.Dir = filepath.Join(w.dir, "action")
			if err := unzip(a.Code, req.Dir, int64(a.MemoryMB)<<20*maxUnzippedFactor); err != nil {
				p.log.Debug("unpack action archive", "key", a.Key, "err", err)
				res.InitTime = time.Since(res.Start)
				res.End = time.Now()
				p.developerError(ctx, w, res, msgInitFailed+msgBadArchive, false)
				return false, nil
			}
		} else {
			req.Code = string(a.Code)
		}
		r, err := w.exchange(ctx, req, a.Timeout)
		res.InitTime = time.Since(res.Start)
		if err != nil {
			res.End = time.Now()
			return false, p.failed(ctx, w, a, res, err, true)
		}
		var ir struct {
			OK    bool    `json:"ok"`
			Error *string `json:"error"`
		}
		if err := json.Unmarshal(r.line, &ir); err != nil || !ir.OK {
			res.End = time.Now()
			detail := string(r.line)
			if ir.Error != nil {
				detail = *ir.Error
			}
			p.developerError(ctx, w, res, msgInitFailed+detail, true)
			return false, nil
		}
	}

	r, err := w.exchange(ctx, runRequest{Op: "run", Value: params, Env: a.Env}, a.Timeout)
	res.End = time.Now()
	if err != nil {
		return false, p.failed(ctx, w, a, res, err, false)
	}
	res.StatusCode, res.Result = classify(r)
	logs, complete := w.logs.collect(ctx, drainPatience)
	res.Logs = logs
	if res.StatusCode == StatusDeveloperError {
		res.Logs = append(res.Logs, syntheticLine(msgLogsMissing))
		return false, nil
	}
	if !complete {
		// The sentinels never came: this worker's logs can no longer be
		// told apart, so do not reuse it.
		res.Logs = append(res.Logs, syntheticLine(msgLogFailure))
		return false, nil
	}
	return true, nil
}

// exchange sends one request and waits for the answer within timeout.
func (w *worker) exchange(ctx context.Context, msg any, timeout time.Duration) (response, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := w.call(tctx, msg)
	switch {
	case err == nil, errors.Is(err, errProxyDied):
		return r, err
	case ctx.Err() != nil:
		return r, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return r, errTimeout
	default:
		return r, err
	}
}

// failed turns a failed exchange into a developer error in res, or
// into an internal error.
func (p *Pool) failed(ctx context.Context, w *worker, a Action, res *Result, err error, initPhase bool) error {
	switch {
	case errors.Is(err, errTimeout):
		w.kill()
		res.TimedOut = true
		format := msgTimeout
		if initPhase {
			format = msgInitTimeout
		}
		p.developerError(ctx, w, res, fmt.Sprintf(format, a.Timeout.Milliseconds()), true)
		return nil
	case errors.Is(err, errProxyDied):
		if p.isClosed() {
			return ErrClosed
		}
		msg := msgRunExited
		if initPhase {
			msg = msgInitExited
		}
		if w.oomKilled() {
			res.OOM = true
			msg = msgOOM
		}
		w.kill()
		p.developerError(ctx, w, res, msg, true)
		return nil
	default:
		w.kill()
		return fmt.Errorf("actionrt: run %s: %w", a.Key, err)
	}
}

// bootFailed handles a proxy that did not come up: an internal error,
// unless the action's own memory limit killed it.
func (p *Pool) bootFailed(ctx context.Context, w *worker, res *Result, err error) error {
	if errors.Is(err, ErrClosed) || p.isClosed() {
		return ErrClosed
	}
	if errors.Is(err, errProxyDied) && w.oomKilled() {
		res.OOM = true
		res.InitTime = time.Since(res.Start)
		res.End = time.Now()
		p.developerError(ctx, w, res, msgOOM, true)
		return nil
	}
	w.kill()
	var lines []string
	if w.pid() != 0 {
		lines, _ = w.logs.collect(ctx, drainPatience)
	}
	if n := len(lines); n > 0 {
		err = fmt.Errorf("%w (stderr: %s)", err, strings.Join(lines[max(n-3, 0):], " | "))
	}
	return fmt.Errorf("actionrt: start worker: %w", err)
}

// developerError records statusCode 2 with msg, the logs so far and
// OpenWhisk's closing log line. collect is false when the proxy never
// saw the activation (nothing to wait for).
func (p *Pool) developerError(ctx context.Context, w *worker, res *Result, msg string, collect bool) {
	res.StatusCode = StatusDeveloperError
	res.Result = errorResult(msg)
	if collect {
		res.Logs, _ = w.logs.collect(ctx, drainPatience)
	}
	res.Logs = append(res.Logs, syntheticLine(msgLogsMissing))
}

func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// classify maps the proxy's run response to a status code and result,
// like OpenWhisk's ActivationResponse.processRunResponseContent.
func classify(r response) (int, json.RawMessage) {
	if r.truncated {
		head := strings.TrimPrefix(string(r.line), `{"result":`)
		head = head[:min(len(head), maxResultBytes)]
		return StatusApplicationError, errorResult(fmt.Sprintf(msgTruncated, r.size, maxResultBytes, head))
	}
	var env struct {
		Result    json.RawMessage `json:"result"`
		Exception *string         `json:"exception"`
		Invalid   *string         `json:"invalid"`
	}
	if err := json.Unmarshal(r.line, &env); err != nil {
		return StatusDeveloperError, errorResult(msgInvalidJSON + string(r.line))
	}
	switch {
	case env.Exception != nil:
		return StatusDeveloperError, errorResult(*env.Exception)
	case env.Invalid != nil:
		return StatusDeveloperError, errorResult(msgInvalidJSON + *env.Invalid)
	case len(env.Result) > maxResultBytes:
		return StatusApplicationError, errorResult(fmt.Sprintf(msgTruncated, len(env.Result), maxResultBytes, env.Result[:maxResultBytes]))
	}
	raw := env.Result
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	switch raw[0] {
	case '{':
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return StatusDeveloperError, errorResult(msgInvalidJSON + string(raw))
		}
		if _, ok := fields["error"]; ok {
			return StatusApplicationError, compact(raw)
		}
		return StatusSuccess, compact(raw)
	case '[':
		return StatusSuccess, compact(raw)
	default:
		return StatusDeveloperError, errorResult(msgInvalidJSON + string(raw))
	}
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
