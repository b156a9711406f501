// Package probe is the controller's network-test endpoint: the far end the
// agents' network check measures against. It serves HTTP under /probe/v1/
// (sessions, download, upload, ping) and a UDP echo for media-like streams.
//
// # Protocol (v1)
//
// Every HTTP request carries "Authorization: Bearer TOKEN". A probe without
// any token configured answers every request 404 with a JSON error saying how
// to enable it. Errors are JSON objects {"error": "..."}.
//
//	POST   /probe/v1/session           body (optional) {"duration_seconds": D}
//	       201 SessionInfo {id, udp_port, max_bytes, expires, udp_packets_per_second}
//	       503 + Retry-After when MaxSessions tests are running
//	GET    /probe/v1/session/{id}[?since=S]
//	       200 SessionStats: bytes received and sent so far with the probe's own
//	       clock, and with since the upload timeline from S seconds into the
//	       session: the receiver's side of an upload
//	DELETE /probe/v1/session/{id}      204; releases the slot
//	GET    /probe/v1/download?session=ID&bytes=N
//	       N incompressible bytes (fewer if the session's budget is nearly spent)
//	POST   /probe/v1/upload?session=ID body discarded and counted;
//	       200 UploadResult {bytes, seconds}; 413 (connection closed) past the budget
//	GET    /probe/v1/ping?session=ID   204, for round trips over TCP
//
// Transfers set their own read and write deadlines through
// http.ResponseController, so they outlive the HTTP server's ReadTimeout and
// WriteTimeout; middleware that wraps the ResponseWriter must implement
// Unwrap for that (without it only the session's expiry bounds a transfer).
//
// The byte budget (MaxBytesPerSession) applies to each direction separately.
// A session lives for the duration its client asked for plus a grace period,
// at most SessionTTL; transfers are cut when it expires, when it is deleted,
// or when they make no progress for IdleTimeout.
//
// UDP packets are at least HeaderLen bytes, big-endian:
//
//	0..3    magic "SPE1"
//	4..19   session id (the 16 bytes the hex id encodes)
//	20..23  sequence number (opaque to the probe)
//	24..31  client send time (opaque to the probe)
//	32..39  probe receive time, nanoseconds on the probe's monotonic clock
//	        (zero in requests; the echo fills it in)
//	40..    padding
//
// The probe echoes a packet of a live session to its source with only the
// receive time filled in, so a reply is exactly as long as its request (no
// amplification); packets of unknown sessions and malformed packets are
// dropped and counted, and each session is rate-limited.
package probe
