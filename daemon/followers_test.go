package daemon

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestUpgradeEndsFollowersAndWaitsForThem: end calls every registered
// response's end, one registered while ending is ended at once, and end
// returns once all released; after reopen, responses run on.
func TestUpgradeEndsFollowersAndWaitsForThem(t *testing.T) {
	d := &Daemon{}
	var ended atomic.Int32
	releases := make(chan func(), 3)
	for range 2 {
		var release func()
		release = d.BeforeUpgrade(func() {
			ended.Add(1)
			releases <- release
		})
	}
	go func() {
		// Each response releases only once its end was called.
		for range 2 {
			(<-releases)()
		}
	}()
	done := make(chan func())
	go func() { done <- d.up.followers.end(time.Hour) }()
	var reopen func()
	select {
	case reopen = <-done:
	case <-time.After(time.Minute):
		t.Fatal("end did not return after every response released")
	}
	if n := ended.Load(); n != 2 {
		t.Fatalf("%d responses ended, want 2", n)
	}
	late := d.BeforeUpgrade(func() { ended.Add(1) })
	if n := ended.Load(); n != 3 {
		t.Errorf("a response registered while ending was not ended at once (%d ended)", n)
	}
	late()
	reopen()
	after := d.BeforeUpgrade(func() { ended.Add(1) })
	defer after()
	if n := ended.Load(); n != 3 {
		t.Errorf("a response registered after reopen was ended (%d ended)", n)
	}
}

// TestUpgradeDoesNotWaitForeverForAFollower: a response that never releases
// holds the upgrade up for the wait given, no longer.
func TestUpgradeDoesNotWaitForeverForAFollower(t *testing.T) {
	d := &Daemon{}
	release := d.BeforeUpgrade(func() {})
	defer release()
	done := make(chan struct{})
	go func() { d.up.followers.end(time.Millisecond)(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("end waited past its bound for a response that never released")
	}
}
