package inventory

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The agent's golden outputs for its fixture rooms: the devices found on each
// fixture sysfs tree, by the real peripherals check.
const agentFixtures = "../../agent/peripherals/testdata"

func TestJudge_FixtureRooms(t *testing.T) {
	cfg, err := rooms.Load("../rooms/testdata/rooms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"video-bar-room", "webcam-speakerphone-room", "unknown-device-room", "camera-unplugged-room", "known-bad-firmware-room"} {
		t.Run(room, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(agentFixtures, room, "golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rep wire.Report
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			got := Judge(cfg.For("fixtures", room), &rep)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", room+".golden.json")
			if *update {
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs (go test -update rewrites it); got:\n%s", file, buf.Bytes())
			}
		})
	}
}

func TestJudge_NoDeviceListIsSkipped(t *testing.T) {
	rep := &wire.Report{Checks: []wire.CheckResult{{Check: "host", Verdict: wire.Pass}}}
	got := Judge([]rooms.Expect{{Kind: "webcam", Count: 1}}, rep)
	if len(got) != 1 || got[0].Verdict != wire.Skipped {
		t.Errorf("got %+v", got)
	}
	if Judge(nil, rep) != nil {
		t.Error("a room that expects nothing got inventory results")
	}
}
