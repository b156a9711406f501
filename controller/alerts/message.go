package alerts

import (
	"fmt"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/readiness"
)

// MessageVersion is the version of the webhook body; it grows when a field
// changes meaning, not when one is added.
const MessageVersion = 2

// Message is what a webhook receives, one per event of an alert: firing,
// changed (its causes did), or its end (resolved, ended, cancelled,
// rescheduled). Text is ready for a chat relay (WhatsApp and Telegram
// gateways take a text): Bahasa Indonesia first, then English. The
// structured fields say the same for programs.
type Message struct {
	Version int     `json:"version"`
	Event   string  `json:"event"`  // firing, changed, resolved, ended, cancelled, rescheduled
	Status  string  `json:"status"` // firing or resolved, as Alertmanager says
	Key     string  `json:"key"`
	Site    string  `json:"site"`
	Room    string  `json:"room"`
	Session Session `json:"session"`
	// Causes are why the room is not ready (readiness.Cause): at firing and
	// changed, the current ones; at an end, the last ones.
	Causes      []readiness.Cause `json:"causes"`
	Text        string            `json:"text"`
	TextID      string            `json:"text_id"`
	TextEN      string            `json:"text_en"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"`
}

// message is the webhook body of an event of the alert in s.
func message(event string, s *state) Message {
	a := s.alert
	status := "firing"
	if !s.endsAt.IsZero() {
		status = "resolved"
	}
	causes := a.Causes
	if causes == nil {
		causes = []readiness.Cause{}
	}
	id, en := texts(event, a)
	return Message{Version: MessageVersion, Event: event, Status: status, Key: a.Key, Site: a.Site, Room: a.Room,
		Session: a.Session, Causes: causes, Text: id + "\n\n" + en, TextID: id, TextEN: en,
		Labels: a.Labels, Annotations: a.Annotations, StartsAt: s.startsAt, EndsAt: s.endsAt}
}

// texts words an event of an alert for people, in Bahasa Indonesia and in
// English. An alert stored by an older controller (no session details) is
// worded from its annotations.
func texts(event string, a Alert) (id, en string) {
	room := a.Site + "/" + a.Room
	title := a.Session.Title
	whenEN, whenID := a.Session.when()
	if a.Session.ID == "" {
		return legacyTexts(event, a)
	}
	switch End(event) {
	case Resolved:
		return fmt.Sprintf("✅ SIAP: Ruang %s kini siap untuk %q pada %s: masalahnya sudah teratasi.", room, title, whenID),
			fmt.Sprintf("✅ READY: Room %s is now ready for %q at %s: the problem is fixed.", room, title, whenEN)
	case Ended:
		return fmt.Sprintf("⏹️ SELESAI: Rapat %q pada %s sudah berakhir; ruang %s belum siap sampai akhir.", title, whenID, room),
			fmt.Sprintf("⏹️ ENDED: The session %q at %s is over; room %s was not ready until the end.", title, whenEN, room)
	case Cancelled:
		return fmt.Sprintf("🚫 DIBATALKAN: Rapat %q pada %s di ruang %s dibatalkan atau dihapus; peringatan ditutup.", title, whenID, room),
			fmt.Sprintf("🚫 CANCELLED: The session %q at %s in room %s was cancelled or deleted; the alert is closed.", title, whenEN, room)
	case Rescheduled:
		return fmt.Sprintf("🗓️ DIJADWALKAN ULANG: Rapat %q (semula %s) di ruang %s dipindah ke waktu lain; peringatan ditutup sampai mendekati waktu barunya.", title, whenID, room),
			fmt.Sprintf("🗓️ RESCHEDULED: The session %q (was %s) in room %s moved to another time; the alert is closed until its new time comes near.", title, whenEN, room)
	}
	headID, headEN := "⚠️ BELUM SIAP", "⚠️ NOT READY"
	if event == EventChanged {
		headID, headEN = "⚠️ MASIH BELUM SIAP (penyebab berubah)", "⚠️ STILL NOT READY (the causes changed)"
	}
	return fmt.Sprintf("%s: Ruang %s belum siap untuk %q pada %s.\n%s", headID, room, title, whenID, causeLines(a.Causes, true)),
		fmt.Sprintf("%s: Room %s is not ready for %q at %s.\n%s", headEN, room, title, whenEN, causeLines(a.Causes, false))
}

// legacyTexts words an alert fired by a controller before alerts kept their
// session and causes: only its annotations are known.
func legacyTexts(event string, a Alert) (id, en string) {
	sumID, sumEN := a.Annotations["summary_id"], a.Annotations["summary"]
	switch event {
	case EventFiring, EventChanged:
		return "⚠️ " + sumID + ".", "⚠️ " + sumEN + ".\n" + a.Annotations["description"]
	}
	return fmt.Sprintf("%s: %s (%s)", strings.ToUpper(event), sumID, event), fmt.Sprintf("%s: %s", strings.ToUpper(event), sumEN)
}
