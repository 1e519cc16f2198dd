package main

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestSummarizeStalls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	gap := func(startMs, lenMs float64) stallGap {
		l := time.Duration(lenMs * float64(time.Millisecond))
		return stallGap{end: t0.Add(time.Duration(startMs*float64(time.Millisecond)) + l), len: l}
	}
	// Three 10-12 ms stops 100 ms apart, and short gaps that must not count.
	gaps := []stallGap{gap(50, 10), gap(90, 2), gap(150, 12), gap(200, 4.9), gap(250, 11)}
	s := summarizeStalls(gaps, time.Second)
	if s.PerSec != 3 {
		t.Errorf("PerSec = %v, want 3", s.PerSec)
	}
	if s.MedianMs != 11 {
		t.Errorf("MedianMs = %v, want 11", s.MedianMs)
	}
	if s.PeriodMs != 100 {
		t.Errorf("PeriodMs = %v, want 100", s.PeriodMs)
	}
	if math.Abs(s.Stalled-0.033) > 1e-9 {
		t.Errorf("Stalled = %v, want 0.033", s.Stalled)
	}
	if z := summarizeStalls(nil, time.Second); z != (stallStats{}) {
		t.Errorf("no gaps: %+v, want zero", z)
	}
	if z := summarizeStalls(gaps, 0); z != (stallStats{}) {
		t.Errorf("zero duration: %+v, want zero", z)
	}
}

func TestProbeStallsRuns(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	gaps, err := probeStalls(context.Background(), dir, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("probe ran %v, want about 200ms", el)
	}
	for i, g := range gaps {
		if g.len < time.Millisecond {
			t.Fatalf("gap %d is %v, below the 1 ms the probe records", i, g.len)
		}
		if i > 0 && g.end.Before(gaps[i-1].end) {
			t.Fatalf("gaps out of order at %d", i)
		}
	}
}
