//go:build race

package main

// raceEnabled: this test binary has the race detector, so the corral
// binaries the tests build get it too.
const raceEnabled = true
