package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/peripherals"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// TestInventory_FixtureRoomsThroughTheController runs the real peripherals
// check on the fixture sysfs trees, sends the reports through the embedded
// broker to a controller that knows what each room should have, and reads
// the verdicts back from the API and /metrics.
func TestInventory_FixtureRoomsThroughTheController(t *testing.T) {
	rc, err := rooms.Load("../controller/rooms/testdata/rooms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture rooms report their peripherals alone: the controller's
	// standard lets the checks they do not run pass (not_checked: pass).
	ctlStd := fastStandard(t)
	ctlStd.NotChecked = wire.Pass
	c := startWith(t, controller.Config{Rooms: rc, Standard: ctlStd})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The agent judges firmware with the default standard's peripherals rules.
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	testProfiles, err := peripherals.LoadProfilesDir("../agent/peripherals/testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		room     string
		profiles *peripherals.Profiles
		state    string
		problems []string // rule:verdict
	}{
		{"video-bar-room", nil, "ready", nil},
		{"webcam-speakerphone-room", nil, "ready", nil},
		{"unknown-device-room", nil, "not_ready", []string{"expect_speakerphone:fail"}},
		{"camera-unplugged-room", nil, "not_ready", []string{"expect_webcam:fail"}},
		{"known-bad-firmware-room", testProfiles, "not_ready", []string{"firmware_known_bad:fail", "firmware_minimum:fail", "firmware_recommended:warn"}},
	} {
		l, err := link.Connect(link.Options{Broker: c.BrokerURL(), Site: "fixtures", Room: tc.room, KeepAlive: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		if err := l.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		r := &runner.Runner{Site: "fixtures", Room: tc.room, AgentVersion: "test", Standard: std,
			Checks: []runner.Check{&peripherals.Check{Sysfs: "../agent/peripherals/testdata/" + tc.room + "/sys", Profiles: tc.profiles}}}
		if err := l.PublishReport(r.Run(ctx)); err != nil {
			t.Fatal(err)
		}
		waitState(t, c, "fixtures", tc.room, tc.state, 5*time.Second)
		got := apiState(t, c, "fixtures", tc.room)
		var problems []string
		for _, p := range got.Problems {
			problems = append(problems, p.Rule+":"+p.Verdict)
		}
		if strings.Join(problems, " ") != strings.Join(tc.problems, " ") {
			t.Errorf("%s: problems %v, want %v", tc.room, problems, tc.problems)
		}
	}

	_, body := scrape(t, c)
	for _, want := range []string{
		`siaprapat_inventory_devices_present{room="camera-unplugged-room",site="fixtures",target="webcam Logitech HD Pro Webcam C920"} 0`,
		`siaprapat_inventory_devices_expected{room="camera-unplugged-room",site="fixtures",target="webcam Logitech HD Pro Webcam C920"} 1`,
		`siaprapat_peripheral_firmware_ok{id="046d:082d",path="1-1.1",room="known-bad-firmware-room",site="fixtures"} 0`,
		`siaprapat_peripheral_info{firmware="0100",id="2574:0960",kind="video_bar",model="AVer VB342",name="AVer VB342",path="1-1",room="video-bar-room",site="fixtures"} 1`,
		`siaprapat_room_rule_problem{check="inventory",room="unknown-device-room",rule="expect_speakerphone",site="fixtures",target="speakerphone Jabra Speak 510",verdict="fail"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	promtool := testenv.Command(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
