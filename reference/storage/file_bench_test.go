package storage

import (
	"fmt"
	"testing"
)

func BenchmarkFileAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		syncEvery int
	}{{"nosync", 0}, {"sync100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := OpenFile(b.TempDir(), FileOptions{SyncEvery: bc.syncEvery})
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
