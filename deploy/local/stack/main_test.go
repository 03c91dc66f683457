package stack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// fakeFnmgrEnv turns the test binary into a stand-in for `fnmgr serve`, so
// that the child-process handling is tested without building fnmgr:
//
//	ok     serve /healthz on FNMGR_ADMIN_ADDR, listen on FNMGR_GATEWAY_ADDR,
//	       exit 0 on SIGTERM
//	crash  print a line and exit 3
//	hang   never become healthy
const fakeFnmgrEnv = "STACK_TEST_FAKE_FNMGR"

// localstackEnv turns the test binary into cmd/localstack (stack.Main),
// for tests that signal the stack's process group.
const localstackEnv = "STACK_TEST_LOCALSTACK"

func TestMain(m *testing.M) {
	serve := len(os.Args) > 1 && os.Args[1] == "serve"
	if mode := os.Getenv(fakeFnmgrEnv); mode != "" && (serve || os.Getenv(localstackEnv) == "") {
		os.Exit(fakeFnmgr(mode))
	}
	if os.Getenv(localstackEnv) != "" {
		os.Exit(Main("localstack", os.Args[1:], os.Getenv, os.Stderr))
	}
	os.Exit(m.Run())
}

func fakeFnmgr(mode string) int {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "fake fnmgr: want the serve command")
		return 2
	}
	fmt.Println("fake fnmgr starting")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fake fnmgr: boom")
		return 3
	case "hang":
		<-sig
		return 0
	}
	gw, err := net.Listen("tcp", os.Getenv(config.EnvGatewayAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer gw.Close()
	if os.Getenv(config.EnvAdminToken) == "" {
		fmt.Fprintln(os.Stderr, "fake fnmgr: no admin token")
		return 1
	}
	srv := &http.Server{Addr: os.Getenv(config.EnvAdminAddr), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	})}
	go func() {
		<-sig
		fmt.Println("fake fnmgr stopping")
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
