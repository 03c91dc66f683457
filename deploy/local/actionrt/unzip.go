package actionrt

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// errArchiveTooLarge means the unpacked archive exceeds its byte budget.
var errArchiveTooLarge = errors.New("archive unpacks to too many bytes")

// unzip unpacks a zip archive into dst, refusing entries that would
// land outside dst and stopping after maxBytes of content. Symbolic
// links are skipped.
func unzip(data []byte, dst string, maxBytes int64) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	budget := maxBytes
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("archive entry %q escapes the action dir", f.Name)
		}
		path := filepath.Join(dst, f.Name)
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", f.Name, err)
			}
			continue
		case !mode.IsRegular():
			continue
		}
		n, err := extract(f, path, budget)
		if err != nil {
			return err
		}
		budget -= n
	}
	return nil
}

func extract(f *zip.File, path string, budget int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("create dir for %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.Mode().Perm()|0o600)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", f.Name, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	if n > budget {
		return n, errArchiveTooLarge
	}
	return n, nil
}
