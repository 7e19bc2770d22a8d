//go:build unix

package atomicfile

import (
	"io/fs"
	"syscall"
)

func fileOwner(st fs.FileInfo) (int, int) {
	s := st.Sys().(*syscall.Stat_t)
	return int(s.Uid), int(s.Gid)
}
