// Package audio checks the room's microphone and speaker: it records the
// microphone for a window and measures its level, peak, clipping, noise
// floor, DC offset and digital silence, then plays a short quiet chirp on the
// speaker while recording and reports whether, how loud and how late the
// microphone heard it (the loopback).
//
// # Levels
//
// Levels are in dBFS with the AES17 / RFC 7874 convention: a full-scale sine
// reads 0 dBFS, so an RMS level is 20·log10(rms·√2) and a sine of amplitude a
// reads 20·log10(a) both as RMS and as peak (a full-scale square wave reads
// +3 dBFS RMS). The standard's speech_level target (-19 dBFS, sine reference)
// uses the same convention. Levels never go below Floor (-120 dBFS): a silent
// input reads -120, never -Inf.
//
// # Sound system
//
// The design named pion/mediadevices' microphone driver. It is not used:
// that package initialises miniaudio in its init function, so importing it
// fixes the sound server at process start, panics when no backend can be
// initialised, and lets ALSA and JACK print to stderr on a machine without a
// sound server; it also has no playback side, which the loopback needs. This
// package calls miniaudio through github.com/gen2brain/malgo (the binding
// mediadevices itself uses) instead:
//
//   - a miniaudio context is created for each run of the check and freed
//     after it, so a sound server started (or restarted) after the agent is
//     found, and PULSE_SERVER is read when the check runs;
//   - the backends are tried one at a time, in order: PulseAudio then ALSA
//     on Linux (PipeWire answers as PulseAudio), WASAPI on Windows, Core
//     Audio on macOS; JACK and OSS are never tried. The first that
//     initialises is used, and when none does the error names each one's
//     failure;
//   - miniaudio's log goes to slog at debug level; nothing is printed on the
//     agent's stdout or stderr;
//   - the microphone is opened in its native format (sample rate, bits,
//     channels), so sample_rate_hertz and sample_bits describe the device and
//     not a conversion; the test signal is handed to miniaudio as 48 kHz mono
//     float and converted to the speaker's format by it.
//
// Devices are named by the sound system's description ("Monitor of Null
// Output", "USB PnP Sound Device Analog Stereo"). A PulseAudio monitor source
// records an output, not a room: it is used only when asked for by name.
// Through ALSA only sound cards count; its plugins (null, pulse, jack...)
// are not devices, so a machine without a sound server or cards reports "no
// microphone found" and says why PulseAudio was not used.
//
// # Measurements
//
// The microphone is recorded for the window (after 100 ms that are thrown
// away while it starts). Over all samples of all channels: rms_dbfs;
// peak_dbfs; clip_ratio, the share of samples with magnitude >= ClipLevel
// (0.99 of full scale); noise_floor_dbfs, the 10th percentile of the RMS
// levels of 20 ms frames; dc_offset_ratio, the largest absolute mean of a
// channel; digital_silence, 1 when every sample is exactly zero.
//
// The loopback records 300 ms, plays a 0.5 s chirp from 500 Hz to 4 kHz at
// Config.LoopbackLevel (-30 dBFS unless set), and records 0.7 s past its
// end. A matched filter finds it: loopback_detected is 1 when the
// normalised cross-correlation reaches DetectThreshold (0.3);
// loopback_level_dbfs is the level of the matching part of the recording
// (so a unity loop reads the level played); loopback_delay_seconds runs from
// when the sound system took the signal for the speaker, so it includes the
// output and input buffering. A speakerphone that cancels its own echo in
// hardware may remove the chirp before the agent hears it.
//
// The sound system is reached through Driver (Miniaudio is the real one), so
// the check's logic is tested without hardware, and a recording (a WAV file)
// goes through the same Source interface as a live microphone.
//
// # Meetings
//
// The check must not disturb a meeting. In a run held back by the agent's
// quiet gate (package quiet: a meeting of the room's schedule, or a device
// in use), and whenever Config.InUse says another application holds the
// devices, the microphone is still recorded, in shared mode (PulseAudio,
// PipeWire, WASAPI shared: the meeting app does not notice), but the
// loopback's test signal is not played; the reason says so and when the
// loopback last played. InUse is asked again just before the signal plays,
// in case a meeting started meanwhile. On Linux the default asks PulseAudio
// (or PipeWire's pulse server) through pactl for other applications'
// playback and recording streams; on Windows it enumerates WASAPI's audio
// sessions for an active one of another process. A microphone that a
// meeting app holds exclusively cannot be recorded: the check is then
// skipped (code in_use) with the last measurements of that microphone,
// when they were taken and their verdict.
//
// An agent running as a system service does not reach a desktop session's
// PulseAudio server; run it in the session, or set PULSE_SERVER.
package audio
