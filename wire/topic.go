package wire

import "strings"

// Root is the first two levels of every siaprapat topic.
const Root = "siaprapat/v1"

// Kinds of per-room topics.
const (
	KindStatus = "status" // retained "online" / "offline" (last will)
	KindReport = "report" // Report, QoS 1
)

// Status payloads on the status topic.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Topic returns the topic of one kind for one room: siaprapat/v1/SITE/ROOM/KIND.
func Topic(site, room, kind string) string {
	return Root + "/" + site + "/" + room + "/" + kind
}

// Filter returns the subscription filter for one kind across every room.
func Filter(kind string) string {
	return Root + "/+/+/" + kind
}

// ParseTopic splits a per-room topic into its site, room and kind.
func ParseTopic(topic string) (site, room, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root+"/")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !ValidName(parts[0]) || !ValidName(parts[1]) || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// AgentClientID is the MQTT client id of a room's agent. A broker that
// authenticates agents (the embedded one) requires exactly this id, so
// that one room cannot take over another's session; '/' separates the
// names because they cannot contain it, so no two rooms share an id.
func AgentClientID(site, room string) string { return "siaprapat-agent/" + site + "/" + room }
