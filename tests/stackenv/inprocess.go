package stackenv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// inProcess counts the stacks running in this process.
var inProcess atomic.Int32

// startInProcess starts the stack in this process (deploy/local/stack),
// logging to e.StackLog; fnmgr's output goes to e.FnmgrLog only.
func (e *Env) startInProcess(ctx context.Context, fnmgrBin string, o Options) error {
	logf, err := os.Create(e.StackLog)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.Debug {
		level = slog.LevelDebug
	}
	so := stack.Options{Dir: e.Dir, FnmgrBin: fnmgrBin, Console: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: level}))}
	if o.Modify != nil {
		o.Modify(&so)
	}
	st, err := stack.New(so)
	if err == nil {
		err = st.Start(ctx)
	}
	if err != nil {
		_ = logf.Close()
		return err
	}
	inProcess.Add(1)
	e.Stack, e.EP, e.pid = st, st.Endpoints(), os.Getpid()
	e.halt = func(ctx context.Context) error {
		defer inProcess.Add(-1)
		err := st.Stop(ctx)
		_ = logf.Close()
		return err
	}
	return nil
}
