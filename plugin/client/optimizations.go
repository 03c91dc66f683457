package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// OptimizationRequest starts the pre-optimizer (POST …/optimizations).
type OptimizationRequest struct {
	Payloads         []json.RawMessage `json:"payloads"`
	Objective        string            `json:"objective,omitempty"`
	Tolerance        *float64          `json:"tolerance,omitempty"`
	MemoryCandidates []int             `json:"memoryCandidates,omitempty"`
	MaxInvocations   int               `json:"maxInvocations,omitempty"`
	GPU              *bool             `json:"gpu,omitempty"`
	Apply            bool              `json:"apply,omitempty"`
}

// Optimization statuses.
const (
	OptimizationQueued    = "queued"
	OptimizationRunning   = "running"
	OptimizationSucceeded = "succeeded"
	OptimizationFailed    = "failed"
	OptimizationCancelled = "cancelled"
)

// Progress counts the invocations an optimization has made of those it
// plans.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Optimization is a run of the pre-optimizer. Report's shape belongs to
// the optimizer; the client keeps it as it came.
type Optimization struct {
	ID       string          `json:"id,omitempty"`
	Status   string          `json:"status"`
	Progress Progress        `json:"progress"`
	Report   json.RawMessage `json:"report,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// Finished reports whether the run has ended (done, failed or cancelled).
func (o Optimization) Finished() bool {
	return o.Status != "" && o.Status != OptimizationRunning && o.Status != OptimizationQueued
}

// StartOptimization starts a run and returns its id.
func (c *Client) StartOptimization(ctx context.Context, name string, req OptimizationRequest) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
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
