// Package storage is fnmgr's Storage Handler: it keeps the code of every
// revision and version of every function, once per content digest
// (sha256), in one of two backends chosen by configuration:
//
//   - couch (default): a document per digest in fnmgr's artifacts database,
//     the bytes as its attachment;
//   - bucket: a folder laid out per account as in the design,
//     <account>/<function>/<version>/<file>, where each file is a hard link to
//     the single copy kept under .blobs/sha256/<hex>.
//
// Both backends return exactly the bytes they were given.
package storage

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// ErrNotFound is returned for an unknown digest.
var ErrNotFound = errors.New("storage: artifact not found")

// Ref names what an artifact is the code of, for the bucket's layout.
type Ref struct {
	Account  string // OpenWhisk namespace
	Function string // name or package/name
	Version  string // "1", "2"... for published versions, "" for a revision
	Kind     string // runtime kind, to name the file
	Binary   bool
}

// Store keeps artifacts. Implementations are safe for concurrent use.
type Store interface {
	// Put stores data (idempotent for the same bytes) and records ref; it
	// returns the digest "sha256-<hex>".
	Put(ctx context.Context, ref Ref, data []byte) (string, error)
	// Get returns the bytes of digest.
	Get(ctx context.Context, digest string) ([]byte, error)
	// Has reports whether digest is stored.
	Has(ctx context.Context, digest string) (bool, error)
	// Delete removes digest and the layout entries of ref's function that
	// hold it. Artifacts are shared by digest across functions: the caller
	// deletes only a digest that no revision or version still references.
	Delete(ctx context.Context, ref Ref, digest string) error
}

// FileName is the file an artifact gets in the design's layout:
// function.zip for binary code, else function.<ext> by runtime family.
func FileName(ref Ref) string {
	if ref.Binary {
		return "function.zip"
	}
	switch entity.Family(ref.Kind) {
	case "nodejs":
		return "function.js"
	case "python":
		return "function.py"
	case "java":
		return "function.jar"
	case "go":
		return "function.go"
	}
	return "function.code"
}

// LayoutPath is <account>/<function>/<version>/<file> ("latest" when the ref
// is not a published version). Package separators in the function become
// path separators.
func LayoutPath(ref Ref) string {
	v := ref.Version
	if v == "" {
		v = "latest"
	}
	return path.Join(safe(ref.Account), safe(ref.Function), v, FileName(ref))
}

func safe(s string) string {
	s = strings.ReplaceAll(s, "..", "_")
	return strings.TrimPrefix(s, "/")
}

func checkDigest(d string) (string, error) {
	hex, ok := strings.CutPrefix(d, "sha256-")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("storage: %q is not a sha256 digest", d)
	}
	return hex, nil
}
