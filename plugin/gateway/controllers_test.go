package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/testkit"
)

func TestAddRemoveControllers(t *testing.T) {
	a, b := newFake(t, "a", nil), newFake(t, "b", nil)
	f := newFixtureWith(t, func(o *Options) { o.Controllers = urls(t, a.URL) })
	hostB := testkit.MustURL(t, b.URL).Host

	steps := []struct {
		name    string
		op      func() error
		wantErr error
		want    []string // controller names after the step
	}{
		{"add b", func() error { return f.gw.AddController(testkit.MustURL(t, b.URL)) }, nil, []string{"a", "b"}},
		{"add b again", func() error { return f.gw.AddController(testkit.MustURL(t, b.URL+"/")) }, ErrControllerExists, []string{"a", "b"}},
		{"add a non-URL", func() error { return f.gw.AddController(testkit.MustURL(t, "ftp://x")) }, ErrInvalidController, []string{"a", "b"}},
		{"add a URL with a query", func() error { return f.gw.AddController(testkit.MustURL(t, "http://x?y=1")) }, ErrInvalidController, []string{"a", "b"}},
		{"remove an unknown one", func() error { return f.gw.RemoveController(testkit.MustURL(t, "http://127.0.0.1:1")) }, ErrUnknownController, []string{"a", "b"}},
		{"remove a", func() error { return f.gw.RemoveController(testkit.MustURL(t, a.URL)) }, nil, []string{"b"}},
		{"remove the last", func() error { return f.gw.RemoveController(testkit.MustURL(t, b.URL)) }, ErrNoController, []string{"b"}},
		{"set none", func() error { return f.gw.SetControllers(nil) }, ErrNoController, []string{"b"}},
		{"set a twice", func() error { return f.gw.SetControllers(urls(t, a.URL, a.URL+"/")) }, ErrControllerExists, []string{"b"}},
		{"set a and b", func() error { return f.gw.SetControllers(urls(t, a.URL, b.URL)) }, nil, []string{"a", "b"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.op()
			if s.wantErr != nil {
				require.ErrorIs(t, err, s.wantErr)
			} else {
				require.NoError(t, err)
			}
			var got []string
			for _, st := range f.gw.Controllers() {
				got = append(got, map[string]string{testkit.MustURL(t, a.URL).Host: "a", hostB: "b"}[st.Name])
				require.True(t, st.Healthy)
			}
			require.Equal(t, s.want, got)
			seen := map[string]bool{}
			for range 2 * len(s.want) {
				_, body := f.do(t, "GET", "/api/v1", "")
				seen[body] = true
			}
			require.Len(t, seen, len(s.want), "every controller takes requests")
		})
	}
	require.NoError(t, f.gw.RemoveController(testkit.MustURL(t, b.URL)))
	require.Equal(t, map[string]bool{testkit.MustURL(t, a.URL).Host: true}, controllerLabels(t, f.reg),
		"b's series are gone")
}

// TestRemovedControllerFinishesInFlight: a request on its way to a
// controller that is removed completes there.
func TestRemovedControllerFinishesInFlight(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/web/guest/default/slow" {
			close(arrived)
			w.(http.Flusher).Flush()
			<-release
		}
		_, _ = io.WriteString(w, "a")
	})
	b := newFake(t, "b", nil)
	f := newFixtureWith(t, func(o *Options) { o.Controllers = urls(t, a.URL, b.URL) })
	done := make(chan string)
	go func() {
		status, body := f.do(t, "GET", "/api/v1/web/guest/default/slow", "")
		done <- fmt.Sprint(status, " ", body)
	}()
	<-arrived
	require.Equal(t, int64(1), f.upstream(t, a).status().InFlight)
	require.NoError(t, f.gw.RemoveController(testkit.MustURL(t, a.URL)))
	for range 3 {
		_, body := f.do(t, "GET", "/api/v1", "")
		require.Equal(t, "b", body)
	}
	close(release)
	require.Equal(t, "200 a", <-done)
}

// TestChangesUnderLoad: controllers come and go while clients invoke; no
// call fails and each runs once.
func TestChangesUnderLoad(t *testing.T) {
	var mu sync.Mutex
	ran := map[string]int{}
	handler := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			return // a health check
		}
		mu.Lock()
		ran[string(b)]++
		mu.Unlock()
		_, _ = w.Write(b)
	}
	fs := []*fake{newFake(t, "a", handler), newFake(t, "b", handler), newFake(t, "c", handler)}
	f := newFixtureWith(t, func(o *Options) {
		o.Controllers = urls(t, fs[0].URL)
		o.HealthInterval = 5 * time.Millisecond
	})
	require.NoError(t, f.gw.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	churn := make(chan error, 1)
	go func() {
		defer close(churn)
		for i := 0; ctx.Err() == nil; i++ {
			var err error
			u := testkit.MustURL(t, fs[i%3].URL)
			switch i % 4 {
			case 0, 1:
				err = f.gw.AddController(u)
			case 2:
				err = f.gw.RemoveController(u)
			case 3:
				err = f.gw.SetControllers(urls(t, fs[(i+1)%3].URL, fs[(i+2)%3].URL))
			}
			if err != nil && !errors.Is(err, ErrControllerExists) && !errors.Is(err, ErrUnknownController) &&
				!errors.Is(err, ErrNoController) {
				churn <- err
				return
			}
			testkit.Pause(ctx, time.Millisecond) // pace the churn (a chosen delay): nothing to wait for
		}
	}()
	const clients, calls = 8, 40
	var wg sync.WaitGroup
	failures := make(chan string, clients*calls)
	for c := range clients {
		wg.Go(func() {
			for n := range calls {
				id := fmt.Sprintf(`{"call":"%d-%d"}`, c, n)
				req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/namespaces/guest/actions/x?blocking=true", strings.NewReader(id))
				resp, err := f.srv.Client().Do(req)
				if err != nil {
					failures <- err.Error()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != id {
					failures <- fmt.Sprintf("%s: %d %s", id, resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	require.NoError(t, <-churn)
	close(failures)
	for fl := range failures {
		t.Error(fl)
	}
	require.Len(t, ran, clients*calls)
	for id, n := range ran {
		require.Equal(t, 1, n, id)
	}
}
