package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a log-linear latency histogram in the style of HdrHistogram:
// values (nanoseconds) below 2^subBits are counted exactly; above, every
// power-of-two range is split into 2^subBits equal buckets, so a recorded
// value is known to within 1/2^subBits (< 0.8%). Counters are atomic so all
// clients of a cell share one histogram without a lock; it is allocated
// before the measured phase so it adds no allocations to it.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	subBits     = 7
	subCount    = 1 << subBits
	histMaxExp  = 40 // 2^40 ns ≈ 18 minutes; larger values are clamped
	histBuckets = (histMaxExp-subBits+1)*subCount + subCount
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1))
	if e > histMaxExp {
		return histBuckets - 1
	}
	shift := e - subBits
	return (e-subBits+1)*subCount + int(v>>shift) - subCount
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	e := i/subCount + subBits - 1
	shift := e - subBits
	sub := uint64(i%subCount + subCount)
	return (sub+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	v := uint64(d)
	if d < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func (h *histogram) count() uint64 { return h.total.Load() }

// quantile returns the value at quantile q (0 < q <= 1): the upper bound of
// the bucket holding the ceil(q*n)-th smallest value, capped by the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			v := bucketHigh(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max.Load())
}

func (h *histogram) mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}
