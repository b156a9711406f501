package wire

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
)

// BrokerURL checks an MQTT broker URL and returns it with a default port. It
// accepts the schemes Mosquitto and paho users write: mqtt:// and tcp://
// (port 1883), mqtts://, ssl:// and tls:// (port 8883).
func BrokerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("broker URL %q: %w", raw, err)
	}
	port := ""
	switch u.Scheme {
	case "mqtt", "tcp":
		port = "1883"
	case "mqtts", "ssl", "tls":
		port = "8883"
	default:
		return nil, fmt.Errorf("broker URL %q: scheme %q is not supported; use mqtt://, tcp://, mqtts://, ssl:// or tls://", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("broker URL %q: no host", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

// SecureBroker reports whether a URL checked by BrokerURL asks for TLS.
func SecureBroker(u *url.URL) bool { return u.Scheme != "mqtt" && u.Scheme != "tcp" }

// BrokerAt returns the broker URL an agent uses at host: the scheme and
// port of given (what the controller said of its broker on enrolment),
// mqtt:// on 1883 when given is empty or unreadable.
func BrokerAt(given, host string) string {
	scheme, port := "mqtt", "1883"
	if u, err := url.Parse(given); err == nil {
		// (The host may be empty: only the scheme and port are taken.)
		if def, err := BrokerURL(u.Scheme + "://x"); err == nil {
			scheme, port = u.Scheme, cmp.Or(u.Port(), def.Port())
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
