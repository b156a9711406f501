package metricsdoc

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/internal/gendoc"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the code")

const doc = "../../docs/metrics.md"

// TestMetricsDoc_IsCurrent fails when docs/metrics.md is not what the code
// exposes; go generate ./... runs it with -update.
func TestMetricsDoc_IsCurrent(t *testing.T) {
	families, err := Families(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := Markdown(&want, families); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := gendoc.Update(doc, want.Bytes()); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := gendoc.Check(doc, want.Bytes()); err != nil {
		t.Error(err)
	}
}

func TestFamilies_TheFleetTheProcessAndTheConditional(t *testing.T) {
	families, err := Families(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]Family{}
	for _, f := range families {
		seen[f.Name] = f
		if strings.HasPrefix(f.Name, "go_") || strings.HasPrefix(f.Name, "process_") {
			t.Errorf("%s is listed: the runtime's families change with the Go release", f.Name)
		}
		if f.Help == "" || f.Type == "" {
			t.Errorf("%+v: no help or type", f)
		}
	}
	for _, name := range append([]string{"siaprapat_room_state", "siaprapat_reports_received_total", "siaprapat_controller_build_info", "siaprapat_controller_shard_info"}, conditional...) {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s is not listed", name)
		}
	}
	if f := seen["siaprapat_room_state"]; !f.Fleet || f.Type != "gauge" || strings.Join(f.Labels, ",") != "room,site,state" {
		t.Errorf("siaprapat_room_state: %+v", f)
	}
}
