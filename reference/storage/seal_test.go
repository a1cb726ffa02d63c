package storage

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// sealRecords, assembly or not, writes the bytes sealRecordsGo does, for bodies of every
// length around the 8-byte steps and for buffers at every alignment.
func TestSealRecordsAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 200 {
		var b []byte
		shift := round % 8
		b = append(b, make([]byte, shift)...)
		for i := range 1 + rng.IntN(40) {
			n := rng.IntN(40)
			if i%17 == 16 {
				n = rng.IntN(3 * writeBuf)
			}
			body := make([]byte, n)
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			b = appendUnsealed(b, int64(rng.Uint64()>>1), int32(rng.Uint32()), body)
		}
		want := bytes.Clone(b[shift:])
		sealRecordsGo(want)
		got := b[shift:]
		sealRecords(got)
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: sealRecords and sealRecordsGo differ", round)
		}
		// And what is sealed verifies as the reader checks it.
		for p := 0; p < len(got); {
			h, ok := parseRecHeader(got[p:])
			if !ok || !h.bodyOK(got[p+recHdrLen:]) {
				t.Fatalf("round %d: record at %d does not verify", round, p)
			}
			p += int(recordLen(h.n))
		}
	}
}

// A buffer that is not whole records is refused with a panic, never sealed past its end.
func TestSealRecordsRefusesPartialRecords(t *testing.T) {
	whole := appendUnsealed(nil, 1, 2, make([]byte, 64))
	for _, b := range [][]byte{
		whole[:len(whole)-1],          // the last CRC cut
		whole[:recHdrLen-1],           // inside the header
		append(bytes.Clone(whole), 1), // a byte past the last record
	} {
		guard := append(bytes.Clone(b), 0xAA, 0xAA, 0xAA, 0xAA)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("sealing %d bytes of a %d-byte record: no panic", len(b), len(whole))
				}
			}()
			sealRecords(guard[:len(b):len(b)])
		}()
		if !bytes.Equal(guard[len(b):], []byte{0xAA, 0xAA, 0xAA, 0xAA}) {
			t.Errorf("sealing %d bytes wrote past them", len(b))
		}
	}
}

// BenchmarkSealRecords seals a 64 KiB write buffer of records with 64-byte bodies, with the
// portable loop and with sealRecords (the assembly one on amd64): ns/record is the figure.
func BenchmarkSealRecords(b *testing.B) {
	var buf []byte
	body := make([]byte, 64)
	for seq := int64(0); len(buf) < writeBuf; seq++ {
		buf = appendUnsealed(buf, seq, 1, body)
	}
	records := len(buf) / int(recordLen(64))
	for _, bc := range []struct {
		name string
		seal func([]byte)
	}{{"go", sealRecordsGo}, {"sealRecords", sealRecords}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.seal(buf)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
		})
	}
}
