package message

import "github.com/fnmgr/fnmgr/couch/entity"

// ContainerCreation is the scheduler-mode message asking an invoker to
// create a container. fnmgr only reads it; the local stack runs the older
// ShardingContainerPoolBalancer layout and never sends it.
type ContainerCreation struct {
	TransID             TransID                   `json:"transid"`
	InvocationNamespace string                    `json:"invocationNamespace"`
	Action              entity.FullyQualifiedName `json:"action"`
	Revision            string                    `json:"revision"`
	WhiskActionMetaData entity.Action             `json:"whiskActionMetaData"`
	RootSchedulerIndex  ControllerInstance        `json:"rootSchedulerIndex"`
	SchedulerHost       string                    `json:"schedulerHost"`
	RPCPort             int                       `json:"rpcPort"`
	RetryCount          int                       `json:"retryCount"`
	CreationID          string                    `json:"creationId"`
}
