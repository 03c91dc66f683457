package client

import (
	"context"
	"net/http"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/api"
)

// The pre-optimizer's bodies belong to the optimizer library (package
// optimizer), which the admin API serves as they are.
type (
	// OptimizationRequest starts the pre-optimizer (POST …/optimizations).
	OptimizationRequest = optimizer.Request
	// Progress counts the invocations an optimization has made of those
	// it plans.
	Progress = optimizer.Progress
	// OptimizationStatus is where a run is: queued, running, succeeded,
	// failed or cancelled.
	OptimizationStatus = optimizer.Status
	// OptimizationSummary is a run as GET …/optimizations lists it.
	OptimizationSummary = optimizer.Summary
	// Optimization is a run of the pre-optimizer (GET …/optimizations/{id}),
	// with its report once there is one.
	Optimization = optimizer.Run
)

// Optimization statuses.
const (
	OptimizationQueued    = optimizer.Queued
	OptimizationRunning   = optimizer.Running
	OptimizationSucceeded = optimizer.Succeeded
	OptimizationFailed    = optimizer.Failed
	OptimizationCancelled = optimizer.Cancelled
)

// StartOptimization starts a run and returns its id.
func (c *Client) StartOptimization(ctx context.Context, name string, req OptimizationRequest) (string, error) {
	var out api.OptimizationStarted
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "optimizations"), nil, req, &out)
	return out.ID, err
}

// Optimization gets a run's status, progress and report.
func (c *Client) Optimization(ctx context.Context, name, id string) (Optimization, error) {
	var out Optimization
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "optimizations", id), nil, nil, &out)
	if out.ID == "" {
		out.ID = id
	}
	return out, err
}

// CancelOptimization cancels a run.
func (c *Client) CancelOptimization(ctx context.Context, name, id string) error {
	_, err := c.do(ctx, http.MethodDelete, c.functionPath(name, "optimizations", id), nil, nil, nil)
	return err
}

// Optimizations lists a function's runs, newest first.
func (c *Client) Optimizations(ctx context.Context, name string) ([]OptimizationSummary, error) {
	var out []OptimizationSummary
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "optimizations"), nil, nil, &out)
	return out, err
}
