package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// newInstance is this invoker's InvokerInstanceId as its pings and
// acknowledgements carry it.
func newInstance(id, userMemoryMB int) message.InvokerInstance {
	name := message.InvokerTopic(id)
	return message.InvokerInstance{
		Instance:            id,
		UserMemory:          message.FormatBytes(int64(userMemoryMB) << 20),
		InstanceType:        "invoker",
		Tags:                []string{},
		DedicatedNamespaces: []string{},
		UniqueName:          name,
		DisplayedName:       name,
	}
}

// pingMessage is the health ping of instance: enabled, since this invoker
// cannot be disabled.
func pingMessage(instance message.InvokerInstance) ([]byte, error) {
	enabled := true
	b, err := json.Marshal(message.Ping{Name: instance, IsEnabled: &enabled})
	if err != nil {
		return nil, fmt.Errorf("invoker: encode ping: %w", err)
	}
	return b, nil
}

// ping sends a health ping on "health" right away and then every interval
// until ctx ends. A failure is logged when it starts and when it ends, not on
// every tick.
func (i *Invoker) ping(ctx context.Context, value []byte) {
	defer close(i.pingDone)
	t := time.NewTicker(i.opts.PingInterval)
	defer t.Stop()
	failing := false
	for {
		err := i.publish(ctx, i.opts.TopicPrefix+message.TopicHealth, value)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			i.log.Error("health ping failed; retrying every interval", "err", err)
		case err == nil && failing:
			failing = false
			i.log.Info("health ping sent again")
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// source names this invoker in user events.
func (i *Invoker) source() string { return message.InvokerTopic(i.opts.ID) }
