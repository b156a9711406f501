package premeeting

import (
	"context"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/wire"
)

func TestPlanner_ChecksOnlyTheSitesItOwns(t *testing.T) {
	p, pb, f, st, am := setup(t)
	p.opts.Owns = func(site string) bool { return site == "s" }
	for _, site := range []string{"s", "other"} {
		f.ApplyStatus(site, "r", wire.StatusOnline, t0)
		st.Put(sessions.Session{Site: site, Room: "r", Title: "Rapat", Start: t0.Add(5 * time.Minute), End: t0.Add(time.Hour)})
	}
	p.Step(context.Background(), t0)
	if len(pb.topics) != 1 || pb.topics[0] != wire.Topic("s", "r", wire.KindCmd) {
		t.Errorf("commands sent to %v, want one to s/r only: another shard checks its own rooms", pb.topics)
	}
	for _, a := range am.Firing() {
		if a.Labels["site"] == "other" {
			t.Errorf("alert for another shard's room: %v", a.Labels)
		}
	}
}
