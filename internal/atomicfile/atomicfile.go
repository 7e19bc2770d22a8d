// Package atomicfile replaces a file's contents so that readers, and the file after a crash,
// see either the old or the new contents, never a mix.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPattern is the os.CreateTemp pattern of WriteFile's temporary file, in the target's
// directory: "." + base name + ".tmp*". A writer killed before the rename leaves one behind;
// callers holding their own lock may remove matches.
func TempPattern(path string) string { return "." + filepath.Base(path) + ".tmp*" }

// WriteFile writes data to a temporary file in path's directory with mode perm, fsyncs it,
// renames it over path and fsyncs the directory. path itself is replaced: resolve a symbolic
// link first (filepath.EvalSymlinks) to write where it points. Errors name the step.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, nil)
}

// Replace is WriteFile for a file that may already exist: the new file gets the existing
// file's permission bits and, where the process may set them (root, or the same owner),
// its owner and group, so that replacing a keystore as root leaves it readable by the
// service that owns it. perm applies when path does not exist yet.
func Replace(path string, data []byte, perm fs.FileMode) error {
	st, err := os.Stat(path)
	if err != nil {
		return writeFile(path, data, perm, nil)
	}
	return writeFile(path, data, st.Mode().Perm(), func(f *os.File) error { return keepOwner(f, st) })
}

func writeFile(path string, data []byte, perm fs.FileMode, prepare func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(f); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("syncing the directory: %w", err)
		}
	}
	return nil
}
