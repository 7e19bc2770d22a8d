//go:build !unix

package filestore

import "context"

// lockFile is a no-op where flock is unavailable: writes are serialised within the process
// only.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return func() {}, nil
}
