package audio

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// pactlTimeout bounds one pactl call.
const pactlTimeout = 3 * time.Second

// DefaultInUse asks the PulseAudio server (or PipeWire's pulse server)
// through pactl whether another application is playing or recording. When
// pactl is missing or cannot reach a server, nothing is detected (and that
// is logged at debug level).
func DefaultInUse(log *slog.Logger) InUseFunc {
	return func(ctx context.Context) (bool, string) {
		path, err := exec.LookPath("pactl")
		if err != nil {
			log.Debug("cannot tell whether a meeting holds the audio devices: no pactl")
			return false, ""
		}
		var uses []string
		for _, kind := range []string{"sink-inputs", "source-outputs"} {
			out, err := pactl(ctx, path, "list", kind)
			if err != nil {
				log.Debug("cannot tell whether a meeting holds the audio devices", "err", err)
				return false, ""
			}
			uses = append(uses, InUseStreams(ParseStreams(out), os.Getpid())...)
		}
		if len(uses) == 0 {
			return false, ""
		}
		return true, strings.Join(uses, ", ")
	}
}

func pactl(ctx context.Context, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pactlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C") // the labels parsed are translated otherwise
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pactl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Stream is an application's playback or recording stream on the sound
// server, as `pactl list sink-inputs` or `source-outputs` shows it.
type Stream struct {
	Kind        string // "playback" or "recording"
	Index       string
	Client      string // "n/a" for streams a server module made (loopback, echo cancel)
	Corked      bool   // paused
	Application string
	PID         int
	Media       string
}

// ParseStreams reads the output of `LC_ALL=C pactl list sink-inputs` or
// `source-outputs`.
func ParseStreams(out string) []Stream {
	var streams []Stream
	var cur *Stream
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "Sink Input #"), strings.HasPrefix(t, "Source Output #"):
			kind := "playback"
			if strings.HasPrefix(t, "Source") {
				kind = "recording"
			}
			streams = append(streams, Stream{Kind: kind, Index: t[strings.IndexByte(t, '#')+1:]})
			cur = &streams[len(streams)-1]
		case cur == nil:
		case strings.HasPrefix(t, "Client:"):
			cur.Client = strings.TrimSpace(strings.TrimPrefix(t, "Client:"))
		case strings.HasPrefix(t, "Corked:"):
			cur.Corked = strings.TrimSpace(strings.TrimPrefix(t, "Corked:")) == "yes"
		default:
			key, value, ok := strings.Cut(t, " = ")
			if !ok {
				continue
			}
			value = strings.Trim(value, `"`)
			switch key {
			case "application.name":
				cur.Application = value
			case "application.process.id":
				cur.PID, _ = strconv.Atoi(value)
			case "media.name":
				cur.Media = value
			}
		}
	}
	return streams
}

// InUseStreams names the streams that mean the devices are in use: an
// application's (not a server module's), running (not corked), not this
// process's own and not a level meter's.
func InUseStreams(streams []Stream, self int) []string {
	var out []string
	for _, s := range streams {
		if s.Client == "n/a" || s.Corked || (s.PID != 0 && s.PID == self) || s.Media == "Peak detect" {
			continue
		}
		app := s.Application
		if app == "" {
			app = "an application"
		}
		out = append(out, fmt.Sprintf("%s (%s stream #%s)", app, s.Kind, s.Index))
	}
	return out
}
