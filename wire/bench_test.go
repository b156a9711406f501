package wire_test

import (
	"context"
	"testing"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// benchReports encodes the reports of n simulated rooms as the fleet
// simulator sends them (host, camera, audio, network, two devices).
func benchReports(b *testing.B, n int) [][]byte {
	b.Helper()
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		p, err := fleetsim.NewRoom(i, 30, 1, std, "bench").Run(context.Background()).Encode()
		if err != nil {
			b.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// BenchmarkDecode measures decoding and validating one realistic report,
// the bulk of the controller's ingest of a report.
func BenchmarkDecode(b *testing.B) {
	payloads := benchReports(b, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(payloads[0])))
	i := 0
	for b.Loop() {
		if _, err := wire.Decode(payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
