// Package feed follows a CouchDB database's continuous _changes feed.
//
// A Follower hands every change, in feed order, to a Handler, and records
// the sequence it has processed as a checkpoint in a store of the caller's
// choosing, so that after a restart it resumes where it stopped. The
// checkpoint is written only after the Handler returned for every change up
// to it: a change may therefore be handed over twice after a crash (at least
// once delivery), never skipped, so Handlers must be idempotent.
//
// Sequence values are opaque strings (CouchDB 3 writes strings, PouchDB
// integers); they are passed back to the server unchanged and never compared.
package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fnmgr/fnmgr/couch"
)

// Change is one row of the feed.
type Change struct {
	Seq     string
	ID      string
	Rev     string
	Deleted bool
	Doc     json.RawMessage // the document (include_docs); for deletions only _id/_rev/_deleted
}

// Handler processes one change. An error stops the follower's current
// connection; the change is handed over again after a backoff.
type Handler func(ctx context.Context, c Change) error

// Checkpoints stores the last processed sequence. Load returns "" when there
// is none (the feed then starts from the beginning).
type Checkpoints interface {
	Load(ctx context.Context) (string, error)
	Save(ctx context.Context, seq string) error
}

// Options configure a Follower.
type Options struct {
	// URL is the database's URL (credentials may be in it; they are never
	// logged).
	URL string
	// HTTPClient reads the feed; default one over couch.NewTransport (no
	// compression: pouchdb-server would hold a continuous feed back).
	HTTPClient  *http.Client
	Handler     Handler
	Checkpoints Checkpoints
	// Heartbeat asks the server for a newline this often, so a dead
	// connection is noticed (default 2s: pouchdb-server sends a continuous
	// feed's headers only with its first line).
	Heartbeat time.Duration
	// CheckpointEvery bounds how often the checkpoint is written (default
	// 500ms); it is always written when the feed goes idle.
	CheckpointEvery time.Duration
	// Workers is how many documents' changes are handled at once (default
	// 16); changes of one document are always handled in feed order.
	Workers int
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 100ms, 10s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Metrics                *Metrics
}

// Follower follows one database.
type Follower struct {
	o        Options
	dbURL    *url.URL
	caughtUp atomic.Bool
	lastSeq  atomic.Pointer[string]
}

// New validates o and returns a Follower.
func New(o Options) (*Follower, error) {
	if o.URL == "" || o.Handler == nil || o.Checkpoints == nil {
		return nil, errors.New("feed: URL, Handler and Checkpoints are required")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, errors.New("feed: invalid database URL")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: couch.NewTransport(couch.ClientOptions{})}
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 2 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 500 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "feed", "db", strings.TrimPrefix(u.Path, "/"))
	return &Follower{o: o, dbURL: u}, nil
}

// CaughtUp reports whether the follower has processed everything the
// database held when it (re)connected.
func (f *Follower) CaughtUp() bool { return f.caughtUp.Load() }

// Run follows the feed until ctx is cancelled, reconnecting with
// exponential backoff and jitter. It returns ctx's error.
func (f *Follower) Run(ctx context.Context) error {
	since, err := f.o.Checkpoints.Load(ctx)
	for err != nil {
		f.o.Logger.Warn("load checkpoint", "err", err)
		if !sleep(ctx, f.o.MinBackoff) {
			return ctx.Err()
		}
		since, err = f.o.Checkpoints.Load(ctx)
	}
	f.lastSeq.Store(&since)
	backoff := f.o.MinBackoff
	for {
		n, err := f.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n > 0 {
			backoff = f.o.MinBackoff
		}
		f.o.Metrics.reconnect()
		f.o.Logger.Warn("changes feed interrupted; reconnecting", "err", err, "backoff", backoff)
		if !sleep(ctx, backoff+time.Duration(rand.Int64N(int64(backoff)/2+1))) {
			return ctx.Err()
		}
		backoff = min(backoff*2, f.o.MaxBackoff)
	}
}

// follow runs one connection and returns how many changes it processed.
func (f *Follower) follow(ctx context.Context) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	since := *f.lastSeq.Load()
	if err := f.catchUp(ctx, since); err != nil {
		return 0, err
	}
	since = *f.lastSeq.Load()
	params := url.Values{"feed": {"continuous"}, "include_docs": {"true"}, "style": {"main_only"},
		"heartbeat": {strconv.FormatInt(f.o.Heartbeat.Milliseconds(), 10)}}
	if since != "" {
		params.Set("since", since)
	}
	body, err := f.get(ctx, params)
	if err != nil {
		return 0, err
	}
	f.caughtUp.Store(true)

	// Changes are read on their own goroutine; the checkpoint is written by
	// a ticker so a burst does not write it for every change.
	type row struct {
		c   Change
		err error
	}
	// The reader reads ahead while a batch is handled (up to a batch's
	// worth), so that what arrived meanwhile forms the next batch.
	rows := make(chan row, maxBatch)
	readerDone := make(chan struct{})
	defer func() {
		cancel()
		_ = body.Close()
		<-readerDone
	}()
	go func() {
		defer close(readerDone)
		defer close(rows)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64*1024), 64<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(strings.TrimSpace(string(line))) == 0 {
				continue // heartbeat
			}
			c, last, err := decodeRow(line)
			if last {
				break
			}
			select {
			case rows <- row{c, err}:
			case <-ctx.Done():
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = errors.New("feed: server closed the continuous feed")
		}
		select {
		case rows <- row{err: err}:
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(f.o.CheckpointEvery)
	defer tick.Stop()
	saved, processed := since, 0
	defer func() { f.saveCheckpoint(context.WithoutCancel(ctx), &saved) }()
	for {
		select {
		case <-ctx.Done():
			return processed, ctx.Err()
		case <-tick.C:
			f.saveCheckpoint(ctx, &saved)
		case r, ok := <-rows:
			if !ok {
				return processed, errors.New("feed: changes stream ended")
			}
			if r.err != nil {
				return processed, fmt.Errorf("feed: read change: %w", r.err)
			}
			// Take what else has arrived, so a burst is handled
			// concurrently; an idle feed handles one change at once.
			batch := []Change{r.c}
			var readErr error
		more:
			for len(batch) < maxBatch {
				select {
				case r, ok := <-rows:
					if !ok {
						readErr = errors.New("feed: changes stream ended")
						break more
					}
					if r.err != nil {
						readErr = fmt.Errorf("feed: read change: %w", r.err)
						break more
					}
					batch = append(batch, r.c)
				default:
					break more
				}
			}
			if err := f.handleBatch(ctx, batch); err != nil {
				return processed, err
			}
			processed += len(batch)
			if readErr != nil {
				return processed, readErr
			}
		}
	}
}

// catchUp reads the changes since `since` as a normal (finite) feed in
// batches, so that CaughtUp means everything up to the connection was seen.
func (f *Follower) catchUp(ctx context.Context, since string) error {
	f.caughtUp.Store(false)
	for {
		params := url.Values{"include_docs": {"true"}, "style": {"main_only"}, "limit": {strconv.Itoa(maxBatch)}}
		if since != "" {
			params.Set("since", since)
		}
		body, err := f.get(ctx, params)
		if err != nil {
			return err
		}
		var page struct {
			Results []json.RawMessage `json:"results"`
		}
		err = json.NewDecoder(body).Decode(&page)
		_ = body.Close()
		if err != nil {
			return fmt.Errorf("feed: catch up: decode: %w", err)
		}
		batch := make([]Change, 0, len(page.Results))
		for _, raw := range page.Results {
			c, _, err := decodeRow(raw)
			if err != nil {
				return err
			}
			batch = append(batch, c)
		}
		if err := f.handleBatch(ctx, batch); err != nil {
			return err
		}
		last := *f.lastSeq.Load()
		if err := f.o.Checkpoints.Save(ctx, last); err != nil {
			return fmt.Errorf("feed: save checkpoint: %w", err)
		}
		if len(page.Results) < maxBatch {
			return nil
		}
		since = last
	}
}

// get opens GET <db>/_changes?params.
func (f *Follower) get(ctx context.Context, params url.Values) (io.ReadCloser, error) {
	u := *f.dbURL
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/") + "/_changes"
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	if ui := f.dbURL.User; ui != nil {
		pw, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), pw)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("feed: GET _changes: %w", redact(err))
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("feed: GET _changes: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

// redact drops the URL (which may carry credentials) from a transport error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// maxBatch bounds the changes handled together.
const maxBatch = 500

// handleBatch hands a batch of changes to the Handler: changes of one
// document in feed order, different documents concurrently (Options.Workers
// at a time). The checkpoint moves past the batch only once all of it was
// handled; after an error the whole batch is handed over again (Handlers
// are idempotent).
func (f *Follower) handleBatch(ctx context.Context, batch []Change) error {
	if len(batch) == 0 {
		return nil
	}
	var order []string
	byID := map[string][]Change{}
	for _, c := range batch {
		if _, ok := byID[c.ID]; !ok {
			order = append(order, c.ID)
		}
		byID[c.ID] = append(byID[c.ID], c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, f.o.Workers)
	for _, id := range order {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(changes []Change) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, c := range changes {
				start := time.Now()
				if err := f.o.Handler(ctx, c); err != nil {
					f.o.Metrics.failed()
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("feed: handle change of %s: %w", c.ID, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				f.o.Metrics.handled(time.Since(start))
				f.o.Metrics.processed(c, f.caughtUp.Load())
			}
		}(byID[id])
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	seq := batch[len(batch)-1].Seq
	f.lastSeq.Store(&seq)
	return nil
}

func (f *Follower) saveCheckpoint(ctx context.Context, saved *string) {
	last := *f.lastSeq.Load()
	if last == *saved || last == "" {
		return
	}
	if err := f.o.Checkpoints.Save(ctx, last); err != nil {
		f.o.Logger.Warn("save checkpoint", "err", err)
		return
	}
	*saved = last
}

// decodeRow decodes one change row; last is true for the closing
// {"last_seq": …} line of a feed.
func decodeRow(b []byte) (Change, bool, error) {
	var r struct {
		Seq     json.RawMessage `json:"seq"`
		ID      string          `json:"id"`
		Deleted bool            `json:"deleted"`
		Changes []struct {
			Rev string `json:"rev"`
		} `json:"changes"`
		Doc     json.RawMessage `json:"doc"`
		LastSeq json.RawMessage `json:"last_seq"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Change{}, false, fmt.Errorf("feed: decode change: %w", err)
	}
	if r.ID == "" && r.LastSeq != nil {
		return Change{}, true, nil
	}
	seq, err := couch.ParseSeq(r.Seq)
	if err != nil {
		return Change{}, false, fmt.Errorf("feed: change of %s: %w", r.ID, err)
	}
	c := Change{Seq: seq.String(), ID: r.ID, Deleted: r.Deleted, Doc: r.Doc}
	if len(r.Changes) > 0 {
		c.Rev = r.Changes[0].Rev
	}
	return c, false, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
