package versions

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

type fakeDeployment struct{ maxMB int }

func (fakeDeployment) MinMemoryMB(context.Context) (int, error) { return 128, nil }
func (d fakeDeployment) MaxMemoryMB() int                       { return d.maxMB }
func (fakeDeployment) MaxGPUNum() int                           { return 4 }
func (fakeDeployment) Kinds(context.Context) ([]string, error) {
	return []string{"nodejs:20", "python:3"}, nil
}

func ptr[T any](v T) *T { return &v }

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		name     string
		req      api.ConfigRequest
		maxMB    int
		wantKind string
		wantErr  string
	}{
		{"memory on a 64 MB step", api.ConfigRequest{MemorySize: ptr(1024)}, 2048, "", ""},
		{"memory off step", api.ConfigRequest{MemorySize: ptr(100)}, 2048, "", "multiple of 64"},
		{"memory below the deployment minimum", api.ConfigRequest{MemorySize: ptr(64)}, 2048, "", "between 128 and 2048"},
		{"memory above MAX_MEMORY", api.ConfigRequest{MemorySize: ptr(4096)}, 2048, "", "between 128 and 2048"},
		{"memory with MAX_MEMORY unknown", api.ConfigRequest{MemorySize: ptr(256)}, 0, "", "MAX_MEMORY is unknown"},
		{"gpuNum in range", api.ConfigRequest{GPUNum: ptr(2)}, 2048, "", ""},
		{"gpuNum over the node", api.ConfigRequest{GPUNum: ptr(5)}, 2048, "", "between 0 and 4"},
		{"gpuMemorySize off step", api.ConfigRequest{GPUMemorySize: ptr(300)}, 2048, "", "multiple of 256"},
		{"gpuPercentage zero", api.ConfigRequest{GPUPercentage: ptr(0)}, 2048, "", "between 1 and 100"},
		{"gpuPercentage full", api.ConfigRequest{GPUPercentage: ptr(100)}, 2048, "", ""},
		{"baseImage kind", api.ConfigRequest{BaseImage: ptr("python:3")}, 2048, "python:3", ""},
		{"baseImage docker image", api.ConfigRequest{BaseImage: ptr("openwhisk/action-python-v3.11:nightly")}, 2048, "", ""},
		{"baseImage unknown", api.ConfigRequest{BaseImage: ptr("cobol:85")}, 2048, "", "neither a runtime kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, err := ValidateConfig(context.Background(), "guest", c.req, fakeDeployment{c.maxMB})
			if c.wantErr == "" {
				if err != nil || kind != c.wantKind {
					t.Fatalf("got kind %q err %v, want kind %q", kind, err, c.wantKind)
				}
				return
			}
			if err == nil || !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, c.wantErr)
			}
		})
	}
}
