//go:build race

package main

// raceEnabled: the test binary runs under -race, so the kvstore binary the
// end-to-end test builds does too (a data race then fails its exit status).
const raceEnabled = true
