package readiness

import (
	"slices"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

var (
	makassar, _ = time.LoadLocation("Asia/Makassar")
	t0          = time.Date(2026, 11, 24, 1, 2, 0, 0, time.UTC) // 09:02 WITA
)

func std(t *testing.T) *standard.Standard {
	t.Helper()
	s, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func f(v float64) *float64 { return &v }

// roomWith returns the fleet's view of a room after the report and status.
func roomWith(t *testing.T, rep *wire.Report, status string) *fleet.View {
	t.Helper()
	fl := fleet.New(fleet.Options{Freshness: 3 * time.Minute, Now: func() time.Time { return t0.Add(time.Minute) }})
	if rep != nil {
		rep.Schema, rep.ID, rep.Site, rep.Room = wire.Schema, "1", "kalbar", "aula"
		fl.ApplyReport(rep, rep.MeasuredAt)
	}
	if status != "" {
		fl.ApplyStatus("kalbar", "aula", status, t0.Add(30*time.Second))
	}
	v, ok := fl.Get("kalbar", "aula")
	if !ok {
		t.Fatal("room not in the fleet")
	}
	return &v
}

// TestCauses_EachShape is the table of every shape a cause takes, with its
// words in both languages.
func TestCauses_EachShape(t *testing.T) {
	at := Context{Standard: std(t), Loc: makassar, Now: t0.Add(time.Minute)}
	cases := []struct {
		name   string
		causes func() []Cause
		want   []Cause // Kind, Check, Target, Rule, Verdict, Code, Text, TextID, Since are compared
	}{
		{"rule fails", func() []Cause {
			return OfRoom(roomWith(t, &wire.Report{MeasuredAt: t0, Verdict: wire.NotReady, Checks: []wire.CheckResult{
				{Check: "network", Target: "probe", Verdict: wire.Fail, Rules: []wire.RuleResult{
					{Rule: "download", Verdict: wire.Pass, Observed: f(20e6)},
					{Rule: "upload", Verdict: wire.Fail, Observed: f(1.94e6), Want: ">= 5 Mbit/s (fail below 3.2 Mbit/s)", Reason: "upload_bits_per_second 1.94 Mbit/s is below the fail limit 3.2 Mbit/s"},
					{Rule: "round_trip_time", Verdict: wire.Warn, Observed: f(0.1234)}}}}}, ""), time.Time{}, at)
		}, []Cause{
			{Kind: KindRule, Check: "network", Target: "probe", Rule: "upload", Verdict: wire.Fail, Since: t0,
				Text: "Upload 1.94 Mbit/s, at least 3.2", TextID: "Unggah 1,94 Mbit/s, minimal 3,2"},
			{Kind: KindRule, Check: "network", Target: "probe", Rule: "round_trip_time", Verdict: wire.Warn, Since: t0,
				Text: "Round-trip time 123.4 ms, at most 100", TextID: "Waktu pulang-pergi (RTT) 123,4 ms, maksimal 100"},
		}},
		{"rule could not be judged", func() []Cause {
			return OfReport(&wire.Report{MeasuredAt: t0, Verdict: wire.NotReady, Checks: []wire.CheckResult{
				{Check: "camera", Target: "HD Webcam (/dev/video0)", Verdict: wire.Error, Rules: []wire.RuleResult{
					{Rule: "camera_fps", Verdict: wire.Error, Reason: "fps was not measured"}}}}}, at)
		}, []Cause{
			{Kind: KindRule, Check: "camera", Target: "HD Webcam (/dev/video0)", Rule: "camera_fps", Verdict: wire.Error, Since: t0,
				Text: "Camera frame rate (HD Webcam (/dev/video0)): not measured", TextID: "Laju bingkai kamera (HD Webcam (/dev/video0)): tidak terukur"},
		}},
		{"check fails without rules", func() []Cause {
			return OfRoom(roomWith(t, &wire.Report{MeasuredAt: t0, Verdict: wire.NotReady, Checks: []wire.CheckResult{
				{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice},
				{Check: "host", Target: "pc", Verdict: wire.Pass}}}, ""), time.Time{}, at)
		}, []Cause{
			{Kind: KindCheck, Check: "camera", Target: "camera", Verdict: wire.Fail, Code: wire.CodeNoDevice, Since: t0,
				Text: "Camera: no camera found", TextID: "Kamera: tidak ada kamera terdeteksi"},
		}},
		{"check errors without a code", func() []Cause {
			return OfReport(&wire.Report{MeasuredAt: t0, Verdict: wire.NotReady, Checks: []wire.CheckResult{
				{Check: "host", Target: "pc", Verdict: wire.Error, Reason: "could not read: memory: permission denied"}}}, at)
		}, []Cause{
			{Kind: KindCheck, Check: "host", Target: "pc", Verdict: wire.Error, Since: t0,
				Text:   "Room PC: could not check: could not read: memory: permission denied",
				TextID: "PC ruang: tidak dapat diperiksa: could not read: memory: permission denied"},
		}},
		{"check not run", func() []Cause {
			rep := &wire.Report{MeasuredAt: t0, Verdict: wire.Ready, Checks: []wire.CheckResult{
				{Check: "network", Target: "probe", Verdict: wire.Pass}, {Check: "camera", Target: "c", Verdict: wire.Pass},
				{Check: "audio", Target: "m", Verdict: wire.Pass}, {Check: "peripherals", Target: "usb", Verdict: wire.Skipped}}}
			rep.Checks = append(rep.Checks, NotChecked(at.Standard, rep)...)
			rep.Verdict = wire.RoomVerdictOf(rep.Checks)
			if rep.Verdict != wire.Degraded {
				t.Errorf("a report without its host check is %s, want degraded", rep.Verdict)
			}
			return OfReport(rep, at)
		}, []Cause{
			{Kind: KindNotChecked, Check: "host", Target: "host", Verdict: wire.Warn, Code: wire.CodeNotChecked, Since: t0,
				Text: "Room PC: not checked: the agent did not run this check", TextID: "PC ruang: tidak diperiksa: agen tidak menjalankan pemeriksaan ini"},
		}},
		{"offline", func() []Cause {
			return OfRoom(roomWith(t, &wire.Report{MeasuredAt: t0, Verdict: wire.Ready}, wire.StatusOffline), time.Time{}, at)
		}, []Cause{
			{Kind: KindOffline, Verdict: wire.Error, Since: t0.Add(30 * time.Second),
				Text: "the room's agent is offline since 09:02 WITA", TextID: "agen ruang tidak terhubung (offline) sejak 09.02 WITA"},
		}},
		{"unknown: no recent report", func() []Cause {
			v := roomWith(t, &wire.Report{MeasuredAt: t0.Add(-time.Hour), Verdict: wire.Ready}, "")
			return OfRoom(v, time.Time{}, at)
		}, []Cause{
			{Kind: KindStale, Verdict: wire.Error, Since: t0.Add(-time.Hour),
				Text:   "no recent report from the room's agent: the newest was measured at 08:02 WITA",
				TextID: "tidak ada laporan baru dari agen ruang: yang terakhir diukur pada 08.02 WITA"},
		}},
		{"unknown: never reported", func() []Cause {
			return OfRoom(roomWith(t, nil, wire.StatusOnline), time.Time{}, at)
		}, []Cause{
			{Kind: KindStale, Verdict: wire.Error, Since: t0.Add(time.Minute),
				Text: "the room's agent has sent no report yet (known since 09:03 WITA)", TextID: "agen ruang belum mengirim laporan (dikenal sejak 09.03 WITA)"},
		}},
		{"agent removed", func() []Cause { return OfRoom(nil, t0.Add(-25*time.Hour), at) }, []Cause{
			{Kind: KindRemoved, Verdict: wire.Error, Since: t0.Add(-25 * time.Hour),
				Text: "the room's agent was removed at 23 Nov 08:02 WITA", TextID: "agen ruang ini dihapus pada 23 Nov 08.02 WITA"},
		}},
		{"no agent ever", func() []Cause { return OfRoom(nil, time.Time{}, at) }, []Cause{
			{Kind: KindNoAgent, Verdict: wire.Error,
				Text: "no agent has ever reported for this room", TextID: "belum pernah ada agen yang melapor untuk ruang ini"},
		}},
		{"check command timed out", func() []Cause {
			return OfCommand(commands.Check{Status: commands.Timeout, IssuedAt: t0, Deadline: t0.Add(2 * time.Minute), Reason: "the agent did not answer within 2m0s"}, at)
		}, []Cause{
			{Kind: KindUnanswered, Verdict: wire.Error, Since: t0,
				Text: "the room's agent did not answer the check within 2 min", TextID: "agen ruang tidak menjawab pemeriksaan dalam 2 menit"},
		}},
		{"inventory", func() []Cause {
			return OfReport(&wire.Report{MeasuredAt: t0, Verdict: wire.NotReady, Checks: []wire.CheckResult{
				{Check: "inventory", Target: "webcam Logitech C920", Verdict: wire.Fail, Measurements: map[string]float64{"devices_expected": 1, "devices_present": 0},
					Rules: []wire.RuleResult{{Rule: "expect_webcam", Verdict: wire.Fail, Reason: "webcam Logitech C920: expected 1, found 0 (unplugged?)"}}}}}, at)
		}, []Cause{
			{Kind: KindRule, Check: "inventory", Target: "webcam Logitech C920", Rule: "expect_webcam", Verdict: wire.Fail, Since: t0,
				Text: "Devices: webcam Logitech C920: expected 1, found 0 (unplugged?)", TextID: "Perangkat: webcam Logitech C920: diharapkan 1, ditemukan 0 (tercabut?)"},
		}},
		{"ready", func() []Cause {
			return OfRoom(roomWith(t, &wire.Report{MeasuredAt: t0, Verdict: wire.Ready, Checks: []wire.CheckResult{
				{Check: "host", Target: "pc", Verdict: wire.Pass}}}, ""), time.Time{}, at)
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.causes()
			for i := range got {
				got[i].Observed, got[i].Want, got[i].Reason = nil, "", ""
			}
			if !slices.EqualFunc(got, c.want, func(a, b Cause) bool {
				return a.Kind == b.Kind && a.Check == b.Check && a.Target == b.Target && a.Rule == b.Rule && a.Verdict == b.Verdict &&
					a.Code == b.Code && a.Text == b.Text && a.TextID == b.TextID && a.Since.Equal(b.Since)
			}) {
				t.Errorf("causes\n got: %+v\nwant: %+v", got, c.want)
			}
		})
	}
}

func TestFingerprint_IgnoresFiguresAndOrder(t *testing.T) {
	a := []Cause{{Kind: KindRule, Check: "network", Rule: "upload", Verdict: wire.Fail, Text: "Upload 1.9 Mbit/s"},
		{Kind: KindCheck, Check: "camera", Verdict: wire.Fail}}
	b := []Cause{{Kind: KindCheck, Check: "camera", Verdict: wire.Fail},
		{Kind: KindRule, Check: "network", Rule: "upload", Verdict: wire.Fail, Text: "Upload 2.1 Mbit/s"}}
	if Fingerprint(a) != Fingerprint(b) {
		t.Error("the same causes with other figures, in another order, differ")
	}
	b[1].Verdict = wire.Warn
	if Fingerprint(a) == Fingerprint(b) {
		t.Error("a cause that went from fail to warn is the same")
	}
}

func TestProblems_YieldsChecksWithoutRulesAndFailingRules(t *testing.T) {
	rep := &wire.Report{Checks: []wire.CheckResult{
		{Check: "camera", Target: "camera", Verdict: wire.Fail},
		{Check: "audio", Target: "m", Verdict: wire.Skipped},
		{Check: "host", Target: "pc", Verdict: wire.Warn, Rules: []wire.RuleResult{{Rule: "a", Verdict: wire.Pass}, {Rule: "b", Verdict: wire.Warn}}},
		{Check: "network", Target: "p", Verdict: wire.Pass},
	}}
	var got []string
	for c, r := range Problems(rep) {
		name := c.Check
		if r != nil {
			name += "/" + r.Rule
		}
		got = append(got, name)
	}
	if want := []string{"camera", "host/b"}; !slices.Equal(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
}

func TestDecimalComma(t *testing.T) {
	for in, want := range map[string]string{"1.9 Mbit/s": "1,9 Mbit/s", "3.2": "3,2", "v1.2.3": "v1,2,3", "a. b": "a. b", "100 ms": "100 ms"} {
		if got := decimalComma(in); got != want {
			t.Errorf("decimalComma(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerdict_FollowsTheProblems(t *testing.T) {
	for _, c := range []struct {
		checks []wire.CheckResult
		want   wire.RoomVerdict
	}{
		{nil, wire.Ready},
		{[]wire.CheckResult{{Check: "audio", Verdict: wire.Skipped}, {Check: "host", Verdict: wire.Pass}}, wire.Ready},
		{[]wire.CheckResult{{Check: "host", Verdict: wire.Pass, Rules: []wire.RuleResult{{Rule: "a", Verdict: wire.Warn}}}}, wire.Degraded},
		{[]wire.CheckResult{{Check: "host", Verdict: wire.Pass, Rules: []wire.RuleResult{{Rule: "a", Verdict: wire.Fail}}}}, wire.NotReady},
		{[]wire.CheckResult{{Check: "camera", Verdict: wire.Fail, Code: wire.CodeNoDevice}}, wire.NotReady},
		{[]wire.CheckResult{{Check: "camera", Verdict: wire.Warn, Code: wire.CodeNotChecked}}, wire.Degraded},
	} {
		if got := Verdict(&wire.Report{Checks: c.checks}); got != c.want {
			t.Errorf("%+v: %s, want %s", c.checks, got, c.want)
		}
	}
}

func TestWords_ClockAndDateInTheRoomsZone(t *testing.T) {
	wita := time.FixedZone("WITA", 8*3600)
	at := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC) // 09:00 WITA, a Tuesday
	if en, id := Clock(at, Context{Loc: wita, Now: at}); en != "09:00 WITA" || id != "09.00 WITA" {
		t.Errorf("today: %q %q", en, id)
	}
	if en, id := Clock(at, Context{Loc: wita, Now: at.Add(-24 * time.Hour)}); en != "24 Nov 09:00 WITA" || id != "24 Nov 09.00 WITA" {
		t.Errorf("another day: %q %q", en, id)
	}
	if en, id := Date(at, wita); en != "Tue 24 Nov 2026" || id != "Selasa, 24 Nov 2026" {
		t.Errorf("date: %q %q", en, id)
	}
	if en, id := Date(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), nil); en != "Tue 24 Nov 2026" || id != "Selasa, 24 Nov 2026" {
		t.Errorf("date in WIB by default: %q %q", en, id)
	}
	if en, id := CheckName("camera"); en != "Camera" || id != "Kamera" {
		t.Errorf("check name: %q %q", en, id)
	}
}

func TestWantID_WordsTheWantedRangeInBahasaIndonesia(t *testing.T) {
	for want, id := range map[string]string{
		">= 10 Mbit/s (fail below 4 Mbit/s)": ">= 10 Mbit/s (gagal di bawah 4 Mbit/s)",
		"<= 70 % (fail above 90 %)":          "<= 70 % (gagal di atas 90 %)",
		"-60 dBFS to -6 dBFS":                "-60 dBFS sampai -6 dBFS",
		">= 1.5 Mbit/s":                      ">= 1,5 Mbit/s",
		"yes":                                "ya",
		"no":                                 "tidak",
		"":                                   "",
	} {
		if got := WantID(want); got != id {
			t.Errorf("WantID(%q) = %q, want %q", want, got, id)
		}
	}
}
