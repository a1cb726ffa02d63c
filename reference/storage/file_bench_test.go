package storage

import (
	"fmt"
	"testing"
)

// BenchmarkFileAppend appends 64-byte records: nosync syncs only at rotations, as the
// simulator's and a durable server's stores do; sync100 every 100 appends too; norotatesync
// never, as a server without --durable, and behind writes behind as well, as serve does.
func BenchmarkFileAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		syncEvery int
		noRotate  bool
		behind    bool
	}{{"nosync", 0, false, false}, {"sync100", 100, false, false}, {"norotatesync", 0, true, false}, {"behind", 0, true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			opt := FileOptions{SyncEvery: bc.syncEvery, NoSyncOnRotate: bc.noRotate}
			if bc.behind {
				opt.FS = WriteBehind(OS{})
			}
			f, err := OpenFile(b.TempDir(), opt)
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 64)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			seq := int64(0)
			for b.Loop() {
				seq++
				if err := f.Append(Record{Seq: seq, MsgID: 1, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFileRead replays a 64 MiB log from its start in batches of 256, as the server
// serves history; the bytes per op are the log's, headers and CRCs included.
func BenchmarkFileRead(b *testing.B) {
	const logBytes = 64 << 20
	for _, bodyLen := range []int{64, 1 << 10} {
		b.Run(fmt.Sprintf("body%d", bodyLen), func(b *testing.B) {
			f, err := OpenFile(b.TempDir(), FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := f.Close(); err != nil {
					b.Error(err)
				}
			}()
			body := make([]byte, bodyLen)
			n := logBytes / recordLen(uint32(bodyLen))
			for seq := range n {
				if err := f.Append(Record{Seq: seq, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n * recordLen(uint32(bodyLen)))
			b.ReportAllocs()
			var dst []Record
			for b.Loop() {
				read := int64(0)
				for from := int64(0); ; from = dst[len(dst)-1].Seq + 1 {
					if dst, err = f.Read(dst[:0], from, 256); err != nil {
						b.Fatal(err)
					}
					if len(dst) == 0 {
						break
					}
					read += int64(len(dst))
				}
				if read != n {
					b.Fatalf("replayed %d records of %d", read, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
