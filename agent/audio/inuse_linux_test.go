package audio_test

import (
	"reflect"
	"testing"

	"github.com/siaprapat/siaprapat/agent/audio"
)

// Output of LC_ALL=C pactl list sink-inputs (PulseAudio 16), shortened.
const sinkInputs = `Sink Input #7
	Driver: protocol-native.c
	Owner Module: 9
	Client: 12
	Sink: 1
	Sample Specification: s16le 2ch 48000Hz
	Corked: no
	Mute: no
	Properties:
		media.name = "Playback"
		application.name = "ZOOM VoiceEngine"
		native-protocol.peer = "UNIX socket client"
		application.process.id = "4242"
		application.process.binary = "zoom"

Sink Input #8
	Driver: protocol-native.c
	Owner Module: 9
	Client: 13
	Sink: 1
	Corked: yes
	Properties:
		media.name = "YouTube"
		application.name = "Firefox"
		application.process.id = "777"

Sink Input #9
	Driver: module-loopback.c
	Owner Module: 21
	Client: n/a
	Sink: 1
	Corked: no
	Properties:
		media.name = "Loopback from Built-in Audio"
`

const sourceOutputs = `Source Output #3
	Driver: protocol-native.c
	Owner Module: 9
	Client: 14
	Source: 2
	Corked: no
	Properties:
		media.name = "Peak detect"
		application.name = "PulseAudio Volume Control"
		application.process.id = "900"

Source Output #4
	Driver: protocol-native.c
	Client: 15
	Source: 2
	Corked: no
	Properties:
		media.name = "record"
		application.name = "siaprapat-agent"
		application.process.id = "31337"
`

func TestParseStreams_ReadsPactlOutput(t *testing.T) {
	got := audio.ParseStreams(sinkInputs)
	want := []audio.Stream{
		{Kind: "playback", Index: "7", Client: "12", Application: "ZOOM VoiceEngine", PID: 4242, Media: "Playback"},
		{Kind: "playback", Index: "8", Client: "13", Corked: true, Application: "Firefox", PID: 777, Media: "YouTube"},
		{Kind: "playback", Index: "9", Client: "n/a", Media: "Loopback from Built-in Audio"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := audio.ParseStreams(""); len(got) != 0 {
		t.Errorf("no streams: %+v", got)
	}
}

func TestInUseStreams_OnlyRunningApplicationStreamsOfOthersCount(t *testing.T) {
	streams := append(audio.ParseStreams(sinkInputs), audio.ParseStreams(sourceOutputs)...)
	got := audio.InUseStreams(streams, 31337)
	want := []string{"ZOOM VoiceEngine (playback stream #7)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
