package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mochi's own way of disconnecting a listener's clients (the CloseFn it
// hands the listener) takes a read lock twice and deadlocks when a connect or
// a disconnect asks for the write lock in between (mochi-mqtt/server#488).
// The window is too narrow to hit on purpose, so this test checks that the
// listener never calls it and still disconnects its clients.
func TestBroker_ListenerClosesItsClientsWithoutMochisCloseFn(t *testing.T) {
	b := startBroker(t)
	held, err := connectAgents(b.Addr(), 5)
	defer closeAgents(held)
	if err != nil {
		t.Fatal(err)
	}
	b.tcp.Close(func(string) { t.Error("the listener called mochi's CloseFn, which can deadlock") })
	for i, a := range held {
		if !closedWithin(a.conn, 10*time.Second) {
			t.Errorf("client %d is still connected after its listener closed", i)
		}
	}
}

// And closing while clients come and go returns. (A smoke test: it did not
// catch the deadlock in mochi's CloseFn, whose window is too narrow; the
// test above does.)
func TestBroker_CloseWhileClientsComeAndGo(t *testing.T) {
	for round := range 5 {
		b, err := Start(Options{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		held, err := connectAgents(b.Addr(), 40)
		if err != nil {
			closeAgents(held)
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					if a, err := dialAgent(b.Addr(), "site", fmt.Sprintf("churn-%d-%d", w, i), 60); err == nil {
						a.conn.Close()
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		closed := make(chan struct{})
		go func() { _ = b.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the broker did not close within 30 s while clients connected and left", round)
		}
		stop.Store(true)
		wg.Wait()
		closeAgents(held)
	}
}
