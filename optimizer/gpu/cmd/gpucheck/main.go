// Command gpucheck is a preflight for the optimizer's GPU measurement: it
// starts DCGM (embedded, or an nv-hostengine given by -hostengine), lists
// the GPUs, samples their memory and utilisation for -duration and prints
// the result as JSON. It exits 1 with a plain message when DCGM is missing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/fnmgr/fnmgr/optimizer/gpu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gpucheck:", err)
		os.Exit(1)
	}
}

func run() error {
	hostengine := flag.String("hostengine", "", "nv-hostengine address (host:port, unix:///path or tcp://host:port); empty: embedded")
	duration := flag.Duration("duration", 2*time.Second, "how long to sample")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	opts := gpu.DCGMOptions{}
	node := ""
	if *hostengine != "" {
		node = "target"
		opts.Hostengines = map[string]string{node: *hostengine}
	}
	d := gpu.NewDCGM(opts)
	defer d.Close()
	ids, err := d.Devices(node)
	if err != nil {
		return err
	}
	s, err := d.Start(ctx, gpu.Target{Node: node})
	if err != nil {
		return err
	}
	select {
	case <-time.After(*duration):
	case <-ctx.Done():
	}
	u, err := s.Stop()
	if err != nil {
		return err
	}
	out := struct {
		Mode     string             `json:"mode"`
		GPUs     []uint             `json:"gpus"`
		Duration string             `json:"duration"`
		Usage    gpu.Usage          `json:"usage"`
		Advice   gpu.Recommendation `json:"recommendationIfThisWereAProbe"`
	}{Mode: "embedded", GPUs: ids, Duration: duration.String(), Usage: u, Advice: gpu.Recommend(u, gpu.RecommendOptions{})}
	if *hostengine != "" {
		out.Mode = "standalone " + *hostengine
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
