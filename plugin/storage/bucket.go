package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Bucket keeps artifacts in a folder: one copy per digest under
// .blobs/sha256/<hex>, hard-linked into <account>/<function>/<version>/<file>.
type Bucket struct {
	root string
}

// NewBucket returns a Bucket rooted at dir, creating it.
func NewBucket(dir string) (*Bucket, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".blobs", "sha256"), 0o750); err != nil {
		return nil, fmt.Errorf("storage: bucket %s: %w", dir, err)
	}
	return &Bucket{root: dir}, nil
}

func (b *Bucket) blob(hex string) string { return filepath.Join(b.root, ".blobs", "sha256", hex) }

// Put implements Store. The blob is written to a temporary file, synced and
// renamed, so a crash never leaves a partial artifact under its digest.
func (b *Bucket) Put(_ context.Context, ref Ref, data []byte) (string, error) {
	d := entity.Digest(data)
	hex, _ := checkDigest(d)
	blob := b.blob(hex)
	if _, err := os.Stat(blob); errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomic(blob, data); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", fmt.Errorf("storage: stat %s: %w", d, err)
	}
	link := filepath.Join(b.root, filepath.FromSlash(LayoutPath(ref)))
	if err := os.MkdirAll(filepath.Dir(link), 0o750); err != nil {
		return "", fmt.Errorf("storage: layout %s: %w", link, err)
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(blob, tmp); err != nil {
		return "", fmt.Errorf("storage: link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", fmt.Errorf("storage: link %s: %w", link, err)
	}
	return d, nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("storage: rename %s: %w", path, err)
	}
	return nil
}

// Get implements Store.
func (b *Bucket) Get(_ context.Context, digest string) ([]byte, error) {
	hex, err := checkDigest(digest)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.blob(hex))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("storage: %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", digest, err)
	}
	if entity.Digest(data) != digest {
		return nil, fmt.Errorf("storage: %s: stored bytes do not match their digest", digest)
	}
	return data, nil
}

// Has implements Store.
func (b *Bucket) Has(_ context.Context, digest string) (bool, error) {
	hex, err := checkDigest(digest)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(b.blob(hex))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Delete implements Store: it removes the function's layout entries that
// hold these bytes, then the blob.
func (b *Bucket) Delete(_ context.Context, ref Ref, digest string) error {
	hex, err := checkDigest(digest)
	if err != nil {
		return err
	}
	blob := b.blob(hex)
	want, err := os.Stat(blob)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: delete %s: %w", digest, err)
	}
	fnDir := filepath.Join(b.root, safe(ref.Account), filepath.FromSlash(safe(ref.Function)))
	_ = filepath.WalkDir(fnDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if got, serr := os.Stat(p); serr == nil && os.SameFile(got, want) {
			_ = os.Remove(p)
		}
		return nil
	})
	if err := os.Remove(blob); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", digest, err)
	}
	return nil
}
