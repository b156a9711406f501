package wire

import (
	"bytes"
	"math"
	"testing"
)

func nan() float64 { return math.NaN() }

// FuzzDecode feeds arbitrary payloads to Decode: it must never panic, every
// error must be a *DecodeError with a known reason, and whatever it accepts
// must encode again, decode again, and encode to the same bytes.
func FuzzDecode(f *testing.F) {
	good, _ := validReport().Encode()
	f.Add(good)
	f.Add([]byte(`{"schema":"siaprapat.report/v2"}`))
	f.Add([]byte(`{"schema":"siaprapat.report/v1","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready","checks":[{"check":"host","verdict":"pass","measurements":{"a_bytes":1}}]}`))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			de, ok := err.(*DecodeError)
			if !ok {
				t.Fatalf("error is %T, not *DecodeError: %v", err, err)
			}
			known := false
			for _, reason := range Reasons {
				known = known || de.Reason == reason
			}
			if !known {
				t.Fatalf("unknown reason %q", de.Reason)
			}
			return
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded report rejected: %v", err)
		}
		b2, err := again.Encode()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the report (%v):\n%s\n%s", err, b, b2)
		}
	})
}

// FuzzDecodeResult feeds arbitrary payloads to DecodeResult: it must never
// panic, every error must be a *DecodeError, and a result it accepts with a
// report keeps that report's bytes (ReportJSON, what the controller stores)
// such that they decode to the same report.
func FuzzDecodeResult(f *testing.F) {
	rep, _ := validReport().Encode()
	good, _ := (&Result{Schema: ResultSchema, CommandID: "c1", Report: validReport()}).Encode()
	f.Add(good)
	f.Add([]byte(`{"schema":"siaprapat.result/v1","command_id":"c1","error":"no camera"}`))
	f.Add([]byte(`{"schema":"siaprapat.result/v1","command_id":"c1","report":` + string(rep) + `,"report":null}`))
	f.Add([]byte(`{"schema":"siaprapat.result/v1","command_id":"c1","report":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResult(data)
		if err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error is %T, not *DecodeError: %v", err, err)
			}
			return
		}
		if r.Report == nil {
			return
		}
		again, err := Decode(r.ReportJSON)
		if err != nil {
			t.Fatalf("the accepted result's report bytes %q do not decode: %v", r.ReportJSON, err)
		}
		a, _ := r.Report.Encode()
		b, _ := again.Encode()
		if !bytes.Equal(a, b) {
			t.Fatalf("the report's bytes decode to %s; the result gave %s", b, a)
		}
	})
}
