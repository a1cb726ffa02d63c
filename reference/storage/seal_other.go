//go:build !amd64 || purego

package storage

func sealRecords(b []byte) { sealRecordsGo(b) }
