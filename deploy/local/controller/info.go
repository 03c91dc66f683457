package controller

import (
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// apiSwagger is OpenWhisk's apiv1swagger.json, served at /api/v1/api-docs.
//
//go:embed apiv1swagger.json
var apiSwagger []byte

// Build identification shown by GET /api/v1.
const (
	buildDate = "2024-05-01T10:00:00Z"
	buildNo   = "local"
)

// rootInfo answers GET / (Controller.info): limits in bytes and ms, and the
// runtimes by family.
func (c *Controller) rootInfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod(http.MethodGet)
	}
	l := c.opts.Limits
	const mb = 1 << 20
	info := entity.RootInfo{
		Description: "OpenWhisk",
		Support: map[string]string{
			"github": "https://github.com/apache/openwhisk/issues",
			"slack":  "http://slack.openwhisk.org",
		},
		APIPaths: []string{"/api/v1"},
		Limits: entity.SystemLimits{
			ActionsPerMinute:         l.InvocationsPerMinute,
			TriggersPerMinute:        l.FiresPerMinute,
			ConcurrentActions:        l.ConcurrentInvocations,
			SequenceLength:           l.SequenceMaxLength,
			DefaultMinActionDuration: int64(l.MinTimeoutMS),
			DefaultMaxActionDuration: int64(l.MaxTimeoutMS),
			DefaultMinActionMemory:   int64(l.MinMemoryMB) * mb,
			DefaultMaxActionMemory:   int64(l.MaxMemoryMB) * mb,
			DefaultMinActionLogs:     int64(l.MinLogsMB) * mb,
			DefaultMaxActionLogs:     int64(l.MaxLogsMB) * mb,
			MinActionDuration:        int64(l.MinTimeoutMS),
			MaxActionDuration:        int64(l.MaxTimeoutMS),
			MinActionMemory:          int64(l.MinMemoryMB) * mb,
			MaxActionMemory:          int64(l.MaxMemoryMB) * mb,
			MinActionLogs:            int64(l.MinLogsMB) * mb,
			MaxActionLogs:            int64(l.MaxLogsMB) * mb,
		},
		Runtimes: c.runtimes.info(),
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// apiInfo answers GET /api/v1 (RestAPIs.info): no limits block.
func (c *Controller) apiInfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod(http.MethodGet)
	}
	writeJSON(w, http.StatusOK, entity.APIInfo{
		Description: "OpenWhisk API", APIVersion: "1.0.0", APIVersionPath: "v1",
		Build: buildDate, BuildNo: buildNo,
		SwaggerPaths: json.RawMessage(`{"ui":"/docs","api-docs":"/api-docs"}`),
	})
	return nil
}

// apiDocs serves the swagger description.
func (c *Controller) apiDocs(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod(http.MethodGet)
	}
	writeRaw(w, http.StatusOK, apiSwagger)
	return nil
}
