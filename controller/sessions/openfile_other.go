//go:build !unix

package sessions

// nonblock: named pipes are a Unix matter.
const nonblock = 0
