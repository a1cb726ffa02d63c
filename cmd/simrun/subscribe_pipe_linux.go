package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe enlarges f's pipe buffer to size if f is a pipe with a smaller one; a larger one,
// made so by whoever set up the pipeline, stays as it is. It is only an optimisation, so any
// failure is ignored: f is not a pipe (fcntl fails with EBADF), the system's limit is lower
// (EPERM), or the memory is short (ENOMEM); the pipe then keeps the size it had, with which
// subscribe works as well, only slower.
func growPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		if n, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil && n < size {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size)
		}
	})
}
