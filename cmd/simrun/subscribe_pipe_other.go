//go:build !linux

package main

import "os"

// subscribePipeBytes is what subscribe would ask for an output pipe, where it could.
const subscribePipeBytes = 1 << 20

// growPipe does nothing: only Linux lets a process size a pipe.
func growPipe(*os.File, int) {}
