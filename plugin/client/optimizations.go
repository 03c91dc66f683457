package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
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

// OptimizationSummary is a run as GET …/optimizations lists it.
type OptimizationSummary struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Progress  Progress   `json:"progress"`
	Objective string     `json:"objective"`
	Mode      string     `json:"mode"`
	By        string     `json:"by,omitempty"`
	Error     string     `json:"error,omitempty"`
	Created   time.Time  `json:"created"`
	Finished  *time.Time `json:"finished,omitempty"`
	Current   *struct {
		MemoryMB int `json:"memoryMB"`
	} `json:"current,omitempty"`
	Recommendation *struct {
		MemoryMB  int    `json:"memoryMB"`
		Source    string `json:"source"`
		Predicted bool   `json:"predicted,omitempty"`
	} `json:"recommendation,omitempty"`
	Saving *struct {
		GBSecondsSavedPct float64 `json:"gbSecondsSavedPct"`
		SlowdownPct       float64 `json:"slowdownPct"`
	} `json:"saving,omitempty"`
	Applied bool `json:"applied,omitempty"`
}

// Optimizations lists a function's runs, newest first.
func (c *Client) Optimizations(ctx context.Context, name string) ([]OptimizationSummary, error) {
	var out []OptimizationSummary
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "optimizations"), nil, nil, &out)
	return out, err
}
