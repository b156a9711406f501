package board

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Languages of the board.
const (
	English    = "en"
	Indonesian = "id"
)

// phrases are the board's own words, in English and in Bahasa Indonesia.
// Causes are not here: they come worded from package readiness.
var phrases = map[string][2]string{
	"app.name":        {"siaprapat", "siaprapat"},
	"nav.fleet":       {"Rooms", "Ruang"},
	"nav.sessions":    {"Meetings", "Rapat"},
	"nav.signin":      {"Sign in", "Masuk"},
	"nav.signout":     {"Sign out", "Keluar"},
	"nav.api":         {"API", "API"},
	"lang.switch":     {"Bahasa Indonesia", "English"},
	"updated":         {"Updated %s", "Diperbarui %s"},
	"stale":           {"The controller does not answer: what you see may be old.", "Controller tidak menjawab: data yang tampil mungkin sudah lama."},
	"skip":            {"Skip to the content", "Langsung ke isi"},
	"state.ready":     {"Ready", "Siap"},
	"state.degraded":  {"Degraded", "Kurang optimal"},
	"state.not_ready": {"Not ready", "Belum siap"},
	"state.offline":   {"Offline", "Tidak terhubung"},
	"state.unknown":   {"Unknown", "Tidak diketahui"},
	"state.all":       {"All states", "Semua status"},
	"verdict.pass":    {"pass", "lulus"},
	"verdict.warn":    {"warn", "peringatan"},
	"verdict.fail":    {"fail", "gagal"},
	"verdict.error":   {"error", "galat"},
	"verdict.skipped": {"skipped", "dilewati"},

	"fleet.title":        {"Rooms", "Ruang"},
	"fleet.sites":        {"Sites", "Lokasi"},
	"fleet.site":         {"Site", "Lokasi"},
	"fleet.state":        {"State", "Status"},
	"fleet.allsites":     {"All sites", "Semua lokasi"},
	"fleet.total":        {"Rooms", "Ruang"},
	"fleet.search":       {"Room name", "Nama ruang"},
	"fleet.filter":       {"Show", "Tampilkan"},
	"fleet.clear":        {"Clear", "Hapus saringan"},
	"fleet.none":         {"No room matches.", "Tidak ada ruang yang cocok."},
	"fleet.empty":        {"No room has reported yet. Start an agent (siaprapat-agent run --site SITE --room ROOM) and its room appears here.", "Belum ada ruang yang melapor. Jalankan agen (siaprapat-agent run --site LOKASI --room RUANG) dan ruangnya muncul di sini."},
	"fleet.shown":        {"Rooms %d to %d of %d", "Ruang %d sampai %d dari %d"},
	"fleet.prev":         {"Previous", "Sebelumnya"},
	"fleet.next":         {"Next", "Berikutnya"},
	"fleet.page":         {"Page %d of %d", "Halaman %d dari %d"},
	"fleet.more":         {"and %d more", "dan %d lagi"},
	"fleet.nextmeetings": {"Next meetings (24 hours)", "Rapat berikutnya (24 jam)"},
	"fleet.nomeetings":   {"No meeting in the next 24 hours.", "Tidak ada rapat dalam 24 jam ke depan."},
	"fleet.allmeetings":  {"All meetings", "Semua rapat"},
	"fleet.moremeetings": {"%d more meetings", "%d rapat lagi"},

	"room.title":           {"Room %s", "Ruang %s"},
	"room.since":           {"since %s", "sejak %s"},
	"room.agent":           {"Agent", "Agen"},
	"room.lastreport":      {"Last report", "Laporan terakhir"},
	"room.noreport":        {"none yet", "belum ada"},
	"room.zone":            {"Time zone", "Zona waktu"},
	"room.firstseen":       {"Known since", "Dikenal sejak"},
	"room.causes":          {"Why", "Penyebab"},
	"room.nocauses":        {"Nothing stands in the way: every check passed.", "Tidak ada kendala: semua pemeriksaan lulus."},
	"room.checks":          {"Checks and rules", "Pemeriksaan dan aturan"},
	"room.check":           {"Check", "Pemeriksaan"},
	"room.rule":            {"Rule", "Aturan"},
	"room.verdict":         {"Verdict", "Hasil"},
	"room.observed":        {"Observed", "Terukur"},
	"room.wanted":          {"Wanted", "Seharusnya"},
	"room.reason":          {"Reason", "Alasan"},
	"room.nochecks":        {"No report yet.", "Belum ada laporan."},
	"room.peripherals":     {"USB devices", "Perangkat USB"},
	"room.noperiph":        {"The last report lists no USB devices.", "Laporan terakhir tidak mencantumkan perangkat USB."},
	"room.device":          {"Device", "Perangkat"},
	"room.kind":            {"Kind", "Jenis"},
	"room.port":            {"Port", "Port"},
	"room.firmware":        {"Firmware", "Firmware"},
	"fw.ok":                {"ok", "baik"},
	"fw.below_recommended": {"older than recommended", "lebih lama dari yang disarankan"},
	"fw.below_minimum":     {"below the minimum", "di bawah versi minimum"},
	"fw.known_bad":         {"known bad", "diketahui bermasalah"},
	"fw.unknown":           {"not profiled", "tidak ada profil"},
	"room.timeline":        {"Last reports", "Laporan terakhir"},
	"room.notimeline":      {"No report kept.", "Tidak ada laporan tersimpan."},
	"room.measured":        {"Measured", "Diukur"},
	"room.problems":        {"Problems", "Masalah"},
	"room.upcoming":        {"Upcoming meetings", "Rapat mendatang"},
	"room.noupcoming":      {"No meeting in the next 7 days.", "Tidak ada rapat dalam 7 hari ke depan."},
	"room.checknow":        {"Check now", "Periksa sekarang"},
	"room.checkhelp":       {"Asks the room's agent to run every check now; the result shows here when it comes.", "Meminta agen ruang menjalankan semua pemeriksaan sekarang; hasilnya tampil di sini begitu datang."},
	"room.checkadmin":      {"Checking a room takes the admin token: sign in with it.", "Memeriksa ruang memerlukan token admin: masuk dengan token itu."},
	"room.checkunknown": {"That check is not known here any more (checks are kept for a while, and not across a restart).",
		"Pemeriksaan itu sudah tidak dikenal (pemeriksaan disimpan sebentar, dan tidak melewati restart)."},
	"room.notfound":     {"No agent has reported for room %s.", "Belum ada agen yang melapor untuk ruang %s."},
	"room.removed":      {"The agent of room %s was removed at %s.", "Agen ruang %s dihapus pada %s."},
	"check.pending":     {"Checking: sent at %s, waiting for the agent (until %s).", "Sedang diperiksa: dikirim %s, menunggu agen (sampai %s)."},
	"check.done":        {"Checked at %s: %s.", "Diperiksa %s: %s."},
	"check.failed":      {"The check at %s could not run.", "Pemeriksaan %s tidak dapat berjalan."},
	"check.timeout":     {"The check sent at %s got no answer.", "Pemeriksaan yang dikirim %s tidak dijawab."},
	"check.offline":     {"The check at %s was not sent: the agent is offline.", "Pemeriksaan %s tidak dikirim: agen tidak terhubung."},
	"check.err.unknown": {"No agent has reported for this room: there is nobody to check it.", "Belum ada agen yang melapor untuk ruang ini: tidak ada yang dapat memeriksanya."},
	"check.err.busy":    {"This room already has 4 checks waiting for its agent; wait for them.", "Ruang ini sudah punya 4 pemeriksaan yang menunggu agennya; tunggu dulu."},
	"check.err.send":    {"The controller cannot reach its MQTT broker: the check was not sent.", "Controller tidak dapat menghubungi broker MQTT: pemeriksaan tidak dikirim."},
	"check.err.other":   {"The check could not start; see the controller's log.", "Pemeriksaan tidak dapat dimulai; lihat log controller."},

	"sessions.title":     {"Meetings", "Rapat"},
	"sessions.none":      {"No meeting from %s to %s.", "Tidak ada rapat dari %s sampai %s."},
	"sessions.earlier":   {"Earlier week", "Minggu sebelumnya"},
	"sessions.later":     {"Next week", "Minggu berikutnya"},
	"sessions.today":     {"From today", "Mulai hari ini"},
	"sessions.checksat":  {"Pre-meeting checks at %s", "Pemeriksaan pra-rapat pukul %s"},
	"sessions.lastcheck": {"Last pre-meeting check: %s", "Pemeriksaan pra-rapat terakhir: %s"},
	"sessions.alert":     {"Alert firing", "Peringatan aktif"},
	"sessions.noalert":   {"No alert", "Tidak ada peringatan"},
	"sessions.ended":     {"Over", "Sudah selesai"},
	"sessions.now":       {"Under way", "Sedang berlangsung"},
	"sessions.organizer": {"Organizer", "Penyelenggara"},
	"sessions.source":    {"from %s", "dari %s"},
	"sessions.room":      {"Room now", "Ruang sekarang"},

	"signin.title":   {"Sign in", "Masuk"},
	"signin.text":    {"Give the controller's read token to see the rooms, or its admin token to also check rooms from here. The board keeps a session cookie for 12 hours, never the token.", "Masukkan token baca controller untuk melihat ruang, atau token adminnya untuk juga memeriksa ruang dari sini. Board menyimpan cookie sesi selama 12 jam, bukan tokennya."},
	"signin.token":   {"Token", "Token"},
	"signin.submit":  {"Sign in", "Masuk"},
	"signin.wrong":   {"That is neither the read nor the admin token of this controller.", "Itu bukan token baca maupun token admin controller ini."},
	"signin.open":    {"This controller has no tokens: everyone who reaches it reads and checks rooms, nothing to sign in for.", "Controller ini tidak memakai token: siapa pun yang menjangkaunya dapat membaca dan memeriksa ruang, tidak perlu masuk."},
	"signin.toomany": {"Too many wrong tokens from this address: wait a minute and try again.", "Terlalu banyak token salah dari alamat ini: tunggu satu menit lalu coba lagi."},
	"signin.as":      {"Signed in", "Sudah masuk"},

	"notfound.title":  {"Not found", "Tidak ditemukan"},
	"notfound.text":   {"There is no such page on this board.", "Halaman itu tidak ada di board ini."},
	"forbidden.title": {"Not allowed", "Tidak diizinkan"},
	"csrf.text":       {"The form was stale or came from another site. Go back, reload the page and try again.", "Formulir sudah kedaluwarsa atau berasal dari situs lain. Kembali, muat ulang halaman, lalu coba lagi."},
	"badname.text":    {"%s", "%s"},
	"back":            {"Back to the rooms", "Kembali ke daftar ruang"},
}

// pickLang chooses the page's language: the switch's cookie, else the
// first of Accept-Language's languages the board speaks (by q), else
// Bahasa Indonesia.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == English || c.Value == Indonesian) {
		return c.Value
	}
	best, bestQ := Indonesian, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		lang := ""
		switch base {
		case "id", "in": // "in" is Indonesian's old code, still sent by some phones
			lang = Indonesian
		case "en":
			lang = English
		}
		// Of equal q, the earlier one wins.
		if lang != "" && q > 0 && q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}

// setLang is the language switch: it keeps the choice in a cookie for a
// year and goes back to the page.
func (b *Board) setLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if lang != English && lang != Indonesian {
		b.message(w, r, http.StatusNotFound, "notfound.title", "notfound.text")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// page is what every page shows around its content, and the words and
// times its templates use.
type page struct {
	Lang      string
	Title     string
	Nav       string // the current section: fleet or sessions
	Here      string // this page's address, for the language switch
	SignedIn  bool
	Tokens    bool // the controller has tokens: the sign-in link shows
	CanWrite  bool
	CSRF      string
	Updated   string
	LiveEvery int // milliseconds between refreshes of the live part; 0: none

	now time.Time
}

func (b *Board) page(r *http.Request, v *visit, nav, title string, args ...any) *page {
	p := &page{Lang: pickLang(r), Nav: nav, Here: r.URL.RequestURI(), SignedIn: v.signedIn, Tokens: v.tokens,
		CanWrite: v.canWrite, CSRF: v.csrf, now: b.cfg.Now()}
	p.Title = p.T(title, args...)
	p.Updated = p.T("updated", p.Clock(p.now, b.cfg.Zone("", "")))
	return p
}

// T is a phrase in the page's language, formatted with args.
func (p *page) T(key string, args ...any) string {
	w, ok := phrases[key]
	if !ok {
		return key
	}
	s := w[0]
	if p.Lang == Indonesian {
		s = w[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Other is the language the switch offers.
func (p *page) Other() string {
	if p.Lang == Indonesian {
		return English
	}
	return Indonesian
}

// Cause is a cause's words in the page's language.
func (p *page) Cause(c readiness.Cause) string {
	if p.Lang == Indonesian {
		return c.TextID
	}
	return c.Text
}

// StateName words a room's state.
func (p *page) StateName(s fleet.State) string { return p.T("state." + string(s)) }

// Verdict words a check's or rule's verdict.
func (p *page) Verdict(v wire.Verdict) string { return p.T("verdict." + string(v)) }

// RoomVerdict words a report's verdict as the state it gives.
func (p *page) RoomVerdict(v wire.RoomVerdict) string { return p.T("state." + string(v)) }

// RuleName says in words what a rule of the standard measures ("Room PC
// CPU use"), "" when the standard or the catalogue does not know it.
func (p *page) RuleName(std *standard.Standard, check, rule string) string {
	if std == nil {
		return ""
	}
	r, ok := std.Rule(rule)
	if !ok || r.Check != check {
		return ""
	}
	m, ok := wire.LookupMeasurement(check, r.Measurement)
	if !ok || m.Words.EN == "" {
		return ""
	}
	if p.Lang == Indonesian {
		return m.Words.ID
	}
	return m.Words.EN
}

// CheckName names a check, as causes do.
func (p *page) CheckName(check string) string {
	en, id := readiness.CheckName(check)
	if p.Lang == Indonesian {
		return id
	}
	return en
}

// Clock writes a moment briefly in loc, with its date when not today there.
func (p *page) Clock(t time.Time, loc *time.Location) string {
	en, id := readiness.Clock(t, readiness.Context{Loc: loc, Now: p.now})
	if p.Lang == Indonesian {
		return id
	}
	return en
}

// When writes a moment in full in loc.
func (p *page) When(t time.Time, loc *time.Location) string {
	en, id := readiness.When(t, loc)
	if p.Lang == Indonesian {
		return id
	}
	return en
}

// Date writes a day in loc.
func (p *page) Date(t time.Time, loc *time.Location) string {
	en, id := readiness.Date(t, loc)
	if p.Lang == Indonesian {
		return id
	}
	return en
}

// Ago says how long ago t was, roughly: "3 min ago", "3 menit lalu".
func (p *page) Ago(t time.Time) string {
	d := p.now.Sub(t)
	if t.IsZero() {
		return ""
	}
	var en, id string
	switch {
	case d < time.Minute:
		en, id = "just now", "baru saja"
	case d < time.Hour:
		n := int(d / time.Minute)
		en, id = fmt.Sprintf("%d min ago", n), fmt.Sprintf("%d menit lalu", n)
	case d < 48*time.Hour:
		n := int(d / time.Hour)
		en, id = fmt.Sprintf("%d h ago", n), fmt.Sprintf("%d jam lalu", n)
	default:
		n := int(d / (24 * time.Hour))
		en, id = fmt.Sprintf("%d days ago", n), fmt.Sprintf("%d hari lalu", n)
	}
	if p.Lang == Indonesian {
		return id
	}
	return en
}

// CheckStatus says what became of a check, with its verdict when done.
func (p *page) CheckStatus(c commands.Check, loc *time.Location) string {
	switch c.Status {
	case commands.Pending:
		return p.T("check.pending", p.Clock(c.IssuedAt, loc), p.Clock(c.Deadline, loc))
	case commands.Done:
		return p.T("check.done", p.Clock(c.FinishedAt, loc), p.RoomVerdict(c.Verdict))
	case commands.Failed:
		return p.T("check.failed", p.Clock(c.IssuedAt, loc))
	case commands.Timeout:
		return p.T("check.timeout", p.Clock(c.IssuedAt, loc))
	case commands.Offline:
		return p.T("check.offline", p.Clock(c.IssuedAt, loc))
	}
	return string(c.Status)
}

// Symbol marks a state beside its colour and words, for those who tell
// colours apart badly and for black-and-white printouts.
func Symbol(s string) string {
	switch s {
	case "ready", "pass":
		return "✓"
	case "degraded", "warn":
		return "⚠"
	case "not_ready", "fail", "error":
		return "✗"
	case "offline":
		return "○"
	}
	return "?"
}
