package httpguard

import (
	"sync"
	"time"
)

// Throttling of failed authentications, per client.
const (
	// FreeFailures is the number of failures in a row a client may make
	// without delay (typos).
	FreeFailures = 3
	// FirstDelay is the delay after failure FreeFailures+1; each further
	// failure doubles it, up to MaxDelay.
	FirstDelay = 250 * time.Millisecond
	// MaxDelay caps the delay, so that the rightful user waits at most
	// this long once an attack stops.
	MaxDelay = 8 * time.Second
	// ForgetAfter is how long after its last failure a client's count is
	// forgotten.
	ForgetAfter = 10 * time.Minute
	// MaxClients bounds the table of clients with recent failures; when it
	// is full an old entry is forgotten.
	MaxClients = 4096
)

// Limiter counts failed authentications per client and says how long a
// client must wait before its next attempt is checked. It holds no
// goroutine; its memory is bounded by MaxClients. It is safe for
// concurrent use.
type Limiter struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	n     int
	last  time.Time // of the last failure
	until time.Time // no check before then
}

// NewLimiter returns a Limiter reading the time from now.
func NewLimiter(now func() time.Time) *Limiter {
	return &Limiter{now: now, max: MaxClients, clients: map[string]*failures{}}
}

// delayAfter is the delay imposed after the n-th failure in a row.
func delayAfter(n int) time.Duration {
	if n <= FreeFailures {
		return 0
	}
	d := FirstDelay
	for i := FreeFailures + 1; i < n && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay)
}

// Wait returns how long client must wait before its credentials are
// checked, and false when the attempt is refused outright.
//
// A client with enough failures to be delayed gets attempts spaced by its
// current delay, however many it sends at once: each attempt takes the
// next free slot, and one whose slot would be more than MaxDelay away is
// refused (the caller answers 429 without looking at the credentials), so
// parallel connections do not multiply the guesses and no request waits
// longer than MaxDelay.
func (l *Limiter) Wait(client string) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.clients[client]
	if f == nil {
		return 0, true
	}
	if now.Sub(f.last) >= ForgetAfter {
		delete(l.clients, client)
		return 0, true
	}
	d := delayAfter(f.n)
	if d == 0 {
		return 0, true
	}
	slot := f.until
	if slot.Before(now) {
		slot = now
	}
	if slot.Sub(now) > MaxDelay {
		return 0, false
	}
	f.until = slot.Add(d)
	return slot.Sub(now), true
}

// Fail records a failed attempt of client and returns its number of
// failures in a row and the delay it now has to wait.
func (l *Limiter) Fail(client string) (int, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.clients[client]
	if f != nil && now.Sub(f.last) >= ForgetAfter {
		f = nil
	}
	if f == nil {
		if len(l.clients) >= l.max {
			l.evict()
		}
		f = &failures{}
		l.clients[client] = f
	}
	f.n++
	f.last = now
	d := delayAfter(f.n)
	if u := now.Add(d); u.After(f.until) {
		f.until = u
	}
	return f.n, d
}

// Succeed forgets client's failures.
func (l *Limiter) Succeed(client string) {
	l.mu.Lock()
	delete(l.clients, client)
	l.mu.Unlock()
}

// Len returns the number of clients with recorded failures.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// evict makes room for one client: of a few entries taken at random (map
// order), the one whose last failure is oldest goes, so that the cost of
// a failure stays constant when the table is full.
func (l *Limiter) evict() {
	const sample = 8
	var oldest string
	var oldestAt time.Time
	seen := 0
	for k, f := range l.clients {
		if oldest == "" || f.last.Before(oldestAt) {
			oldest, oldestAt = k, f.last
		}
		if seen++; seen == sample {
			break
		}
	}
	delete(l.clients, oldest)
}
