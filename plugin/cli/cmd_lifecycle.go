package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/plugin/client"
)

// changed prints the function after a lifecycle change.
func changed(s *Session, verb, name string, f client.Function) error {
	return s.okf(f, "%s %s (state %s, revision %d)", verb, name, f.State, f.Head.Revision)
}

func blockCommand() *Command {
	return &Command{Name: "block", Args: "NAME", Summary: "stop a function's code from running anywhere",
		Long: "Blocks function NAME: its code no longer runs on any path into OpenWhisk (the API,\n" +
			"triggers and rules, sequences, web actions, NAME@N and NAME@ALIAS); callers get an\n" +
			"error naming the function and its state (423 through the gateway). Unblocking\nrestores the action exactly.",
		Example: `fnmgr block hello --reason "leaks customer data"`,
		Flags: func(fs *pflag.FlagSet) Action {
			reason := fs.String("reason", "", "why, in a `SENTENCE` (shown in the history)")
			return func(ctx context.Context, s *Session, args []string) error {
				f, err := s.client.Block(ctx, args[0], *reason)
				if err != nil {
					return err
				}
				return changed(s, "blocked", args[0], f)
			}
		}}
}

func unblockCommand() *Command {
	return &Command{Name: "unblock", Args: "NAME", Summary: "let a blocked function run again",
		Long:    "Unblocks function NAME: it returns to the state it had before the block, with its\naction's exec, limits, parameters and annotations restored.",
		Example: "fnmgr unblock hello",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			f, err := s.client.Unblock(ctx, args[0])
			if err != nil {
				return err
			}
			return changed(s, "unblocked", args[0], f)
		})}
}

func retireCommand() *Command {
	return &Command{Name: "retire", Args: "NAME", Summary: "retire a function; it is purged after a grace period",
		Long: "Retires function NAME: its code stops running (410 through the gateway) and, once the\n" +
			"grace period has passed, the action, its versions, aliases and stored code are purged.",
		Example: `fnmgr retire hello --reason "replaced by hello2" --grace 72h`,
		Flags: func(fs *pflag.FlagSet) Action {
			reason := fs.String("reason", "", "why, in a `SENTENCE` (shown in the history)")
			grace := fs.String("grace", "", "how long before the purge, as a Go `DURATION` such as 72h or 0s (default: fnmgr's --retire-grace)")
			return func(ctx context.Context, s *Session, args []string) error {
				var g *time.Duration
				if *grace != "" {
					d, err := time.ParseDuration(*grace)
					if err != nil || d < 0 {
						return fmt.Errorf("%w: --grace %q is not a duration such as 72h or 0s", ErrUsage, *grace)
					}
					g = &d
				}
				f, err := s.client.Retire(ctx, args[0], *reason, g)
				if err != nil {
					return err
				}
				if f.PurgeAt != nil {
					return s.okf(f, "retired %s; it will be purged at %s", args[0], when(*f.PurgeAt))
				}
				return changed(s, "retired", args[0], f)
			}
		}}
}

func configCommand() *Command {
	return &Command{Name: "config", Args: "NAME", Summary: "show or set a function's run-time settings",
		Long: "Sets the run-time settings of function NAME, validated against the deployment:\n" +
			"memory in 64 MB steps up to the invokers' largest user memory, GPUs up to a node's\n" +
			"count, GPU memory in 256 MB steps, GPU share 1 to 100 %, and the base image (a\n" +
			"runtime kind the deployment offers, or a blackbox image). Without flags it shows them.",
		Example: "fnmgr config hello\nfnmgr config hello --memory 512\nfnmgr config hello --base-image python:3 --gpu-num 1 --gpu-memory 1024 --gpu-percentage 50",
		Flags: func(fs *pflag.FlagSet) Action {
			var mem, gpuNum, gpuMem, gpuPct intFlag
			fs.Var(&mem, "memory", "memory size in `MB` (64 MB steps)")
			fs.Var(&gpuNum, "gpu-num", "`N` GPUs")
			fs.Var(&gpuMem, "gpu-memory", "GPU memory in `MB` (256 MB steps)")
			fs.Var(&gpuPct, "gpu-percentage", "share of a GPU, `1-100`")
			image := fs.String("base-image", "", "a runtime `KIND` (python:3) or a blackbox image (repo/image:tag)")
			return func(ctx context.Context, s *Session, args []string) error {
				req := client.ConfigRequest{MemorySize: mem.ptr(), GPUNum: gpuNum.ptr(), GPUMemorySize: gpuMem.ptr(), GPUPercentage: gpuPct.ptr()}
				if *image != "" {
					req.BaseImage = image
				}
				var cfg client.Config
				if req == (client.ConfigRequest{}) {
					f, err := s.client.Function(ctx, args[0])
					if err != nil {
						return err
					}
					cfg = f.Config
				} else {
					var err error
					if cfg, err = s.client.SetConfig(ctx, args[0], req); err != nil {
						return err
					}
				}
				return s.emit(cfg, func(w io.Writer) error {
					if req != (client.ConfigRequest{}) {
						fmt.Fprintf(w, "ok: updated the settings of %s\n", args[0])
					}
					mem := "-"
					if cfg.MemorySize != 0 {
						mem = itoa(cfg.MemorySize) + " MB"
					}
					return table(w, []string{"Setting", "Value"}, [][]string{
						{"base image", dash(cfg.BaseImage)},
						{"memory", mem},
						{"GPUs", optInt(cfg.GPUNum, "")},
						{"GPU memory", optInt(cfg.GPUMemorySize, " MB")},
						{"GPU share", optInt(cfg.GPUPercentage, "%")},
					})
				})
			}
		}}
}
