//go:build !(cgo && linux)

package gpu

import (
	"context"
	"log/slog"
	"time"
)

// DCGMOptions configure the DCGM sampler (see dcgm.go).
type DCGMOptions struct {
	Hostengines map[string]string
	Interval    time.Duration
	Logger      *slog.Logger
}

// DCGM is unavailable in this build: go-dcgm needs cgo on Linux.
type DCGM struct{}

// NewDCGM returns a sampler that always reports DCGM unavailable.
func NewDCGM(DCGMOptions) *DCGM { return &DCGM{} }

// Start implements Sampler.
func (*DCGM) Start(context.Context, Target) (Session, error) {
	return nil, &UnavailableError{Reason: "this fnmgr was built without cgo (or not for Linux); DCGM needs both"}
}

// Devices lists no GPUs.
func (*DCGM) Devices(string) ([]uint, error) {
	return nil, &UnavailableError{Reason: "this fnmgr was built without cgo (or not for Linux); DCGM needs both"}
}

// Close does nothing.
func (*DCGM) Close() {}
