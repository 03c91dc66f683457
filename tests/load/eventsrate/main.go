// Command eventsrate measures how many OpenWhisk user events per second
// fnmgr's events listener consumes on one core: kafka/consumer (sarama, as
// fnmgr runs it) handing each message to the analyzer
// (plugin/analyzer), with GOMAXPROCS=1 while consuming.
//
// The Kafka broker runs in a child process (this executable again, with
// -broker), so that the measured process does nothing but consume. The
// topic is filled with -events activation events of -functions functions
// first; the time runs from the first event handled to the last.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/analyzer"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

func main() {
	child := flag.Bool("broker", false, "run the broker (the child process), print its address, stop when stdin closes")
	events := flag.Int("events", 500_000, "events to consume")
	functions := flag.Int("functions", 100, "functions the events are about")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *child {
		err = runBroker(ctx)
	} else {
		err = measure(ctx, *events, *functions)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eventsrate:", err)
		os.Exit(1)
	}
}

func runBroker(ctx context.Context) error {
	b, err := broker.Start(ctx, broker.Options{Topics: []string{message.TopicEvents}})
	if err != nil {
		return err
	}
	defer b.Stop()
	fmt.Println(b.Addrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent goes
	return nil
}

func measure(ctx context.Context, n, functions int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "-broker")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("broker child: %w", err)
	}
	addr = addr[:len(addr)-1]

	fmt.Fprintf(os.Stderr, "eventsrate: producing %d events\n", n)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(10*time.Millisecond), kgo.MaxBufferedRecords(200_000))
	if err != nil {
		return err
	}
	recs := make([]*kgo.Record, 0, 10_000)
	for i := range n {
		v := fmt.Sprintf(`{"source":"invoker0","body":{"name":"guest/fn%03d","activationId":"%032x","statusCode":%d,"duration":%d,"waitTime":3,"initTime":%d,"kind":"nodejs:20","conductor":false,"memory":256},"subject":"guest","namespace":"guest","userId":"23bc46b1-71f6-4ed5-8c54-816aa4f8c502","eventType":"Activation","timestamp":%d}`,
			i%functions, i, i%7/6, 5+i%50, (i%10/9)*120, time.Now().UnixMilli())
		recs = append(recs, &kgo.Record{Topic: message.TopicEvents, Value: []byte(v)})
		if len(recs) == cap(recs) || i == n-1 {
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	prod.Close()

	runtime.GOMAXPROCS(1)
	runtime.GC()
	an := analyzer.New(func(string, string) (registry.State, bool) { return registry.Latest, true }, nil)
	var handled atomic.Int64
	var first, last atomic.Int64
	done := make(chan struct{})
	g, err := consumer.New(consumer.Options{Brokers: []string{addr}, GroupID: "fnmgr-events", Topics: []string{message.TopicEvents},
		Oldest: true, Handler: func(ctx context.Context, topic string, v []byte) error {
			if first.Load() == 0 {
				first.Store(time.Now().UnixNano())
			}
			err := an.Handle(ctx, topic, v)
			if handled.Add(1) == int64(n) {
				last.Store(time.Now().UnixNano())
				close(done)
			}
			return err
		}})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	go func() { _ = g.Run(cctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("only %d of %d events consumed in 10 minutes", handled.Load(), n)
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	wall := time.Duration(last.Load() - first.Load())
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	var total int64
	for i := range functions {
		st, _ := an.Stats(fmt.Sprintf("guest/fn%03d", i))
		total += st.Activations
	}
	fmt.Printf("machine: %s\n", stackenv.Machine())
	fmt.Printf("events: %d consumed (%d counted by the analyzer) in %s on GOMAXPROCS=%d: %.0f events/s; process CPU %s (%.0f events per CPU-second, join included)\n",
		n, total, wall.Round(time.Millisecond), runtime.GOMAXPROCS(0), float64(n)/wall.Seconds(), cpu.Round(time.Millisecond), float64(n)/cpu.Seconds())
	return nil
}
