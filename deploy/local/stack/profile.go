package stack

import (
	"fmt"

	"github.com/fnmgr/fnmgr/deploy/local/controller"
	"github.com/fnmgr/fnmgr/deploy/local/profile"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// fnmgr's topic prefix settings. Only the launcher knows them: the
// stack's OpenWhisk-compatible parts need nothing of fnmgr.
const (
	envFnmgrTopicPrefix      = config.EnvKafkaTopicPrefix
	envFnmgrEventTopicPrefix = config.EnvKafkaUserEventsTopicPrefix
)

// resolveProfile checks o.Profile and fills what the profile decides and o
// leaves unset: the limits, the invokers' user memory and the user events
// prefix.
func (o *Options) resolveProfile() error {
	p, err := profile.Get(o.Profile)
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	o.Profile = p.Name
	o.prof = p
	if o.Limits == (controller.Limits{}) {
		o.Limits = p.Limits
	}
	if o.UserMemoryMB == 0 {
		o.UserMemoryMB = p.UserMemoryMB
	}
	if o.KafkaUserEventsTopicPrefix == "" {
		o.KafkaUserEventsTopicPrefix = o.KafkaTopicPrefix
	}
	return nil
}

// guestThrottles is what the seed writes into the guest's limits document.
func (o *Options) guestThrottles() *seed.Throttles {
	if g := o.prof.Guest; g != nil {
		return &seed.Throttles{InvocationsPerMinute: g.InvocationsPerMinute, ConcurrentInvocations: g.ConcurrentInvocations}
	}
	return nil
}

// topicEnv passes the topic prefixes to fnmgr.
func topicEnv(o Options) map[string]string {
	return map[string]string{
		envFnmgrTopicPrefix:      o.KafkaTopicPrefix,
		envFnmgrEventTopicPrefix: o.KafkaUserEventsTopicPrefix,
	}
}
