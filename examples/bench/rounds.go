package main

import (
	"context"
	"errors"
	"sort"
)

// roundOrder is the engine order of round r: as given on even rounds,
// reversed on odd ones, so neither engine always runs on a cold (or warm)
// machine.
func roundOrder(engines []string, r int) []string {
	out := append([]string(nil), engines...)
	if r%2 == 1 {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// combineRounds folds several rounds of one engine into one result whose
// cells hold the median of each figure over the rounds in which the cell
// completed operations. A single round is returned as is.
func combineRounds(rs []engineResult) engineResult {
	if len(rs) == 1 {
		return rs[0]
	}
	out := engineResult{Engine: rs[0].Engine, ReadPaths: rs[0].ReadPaths, Rounds: rs}
	errs := foldRunInfo(&out, rs)
	for _, r := range rs {
		if r.Soak != nil {
			out.Soak = r.Soak // the last round's soak; every round's is in Rounds
		}
	}
	if len(errs) == len(rs) {
		out.Err = errors.Join(errs...).Error()
	} else if len(errs) > 0 {
		out.Err = "some rounds failed: " + errors.Join(errs...).Error()
	}
	out.Writes = combineCells(rs, func(r engineResult) []cellResult { return r.Writes })
	out.Reads = combineCells(rs, func(r engineResult) []cellResult { return r.Reads })
	return out
}

func combineCells(rs []engineResult, pick func(engineResult) []cellResult) []cellResult {
	type key struct {
		kind, path    string
		size, clients int
	}
	var order []key
	groups := map[key][]cellResult{}
	for _, r := range rs {
		for _, c := range pick(r) {
			k := key{c.Kind, c.ReadPath, c.Size, c.Clients}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], c)
		}
	}
	var out []cellResult
	for _, k := range order {
		cells := groups[k]
		var ok []cellResult
		res := cellResult{Kind: k.kind, ReadPath: k.path, Size: k.size, Clients: k.clients}
		for _, c := range cells {
			res.Errors += c.Errors
			if res.FirstError == "" {
				res.FirstError = c.FirstError
			}
			if c.Ops > 0 {
				ok = append(ok, c)
			} else if res.Err == "" {
				res.Err = c.Err
			}
		}
		if len(ok) == 0 {
			out = append(out, res)
			continue
		}
		// A round in which the cell failed still shows in Rounds.
		res.Err = ""
		med := func(f func(cellResult) float64) float64 {
			var v []float64
			for _, c := range ok {
				v = append(v, f(c))
			}
			return medianF(v)
		}
		for _, c := range ok {
			res.Ops += c.Ops
			res.Seconds += c.Seconds
		}
		res.OpsPerSec = med(func(c cellResult) float64 { return c.OpsPerSec })
		res.P50Ms = med(func(c cellResult) float64 { return c.P50Ms })
		res.P99Ms = med(func(c cellResult) float64 { return c.P99Ms })
		res.P999Ms = med(func(c cellResult) float64 { return c.P999Ms })
		res.MeanMs = med(func(c cellResult) float64 { return c.MeanMs })
		res.MaxMs = med(func(c cellResult) float64 { return c.MaxMs })
		res.CPUSecPer10k = med(func(c cellResult) float64 { return c.CPUSecPer10k })
		res.AllocsPerOp = med(func(c cellResult) float64 { return c.AllocsPerOp })
		res.PeakRSSMB = med(func(c cellResult) float64 { return c.PeakRSSMB })
		res.PeakAnonMB = med(func(c cellResult) float64 { return c.PeakAnonMB })
		out = append(out, res)
	}
	return out
}

// medianF is the median (the mean of the middle two for an even count).
func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cellPlans splits c into one config per cell: each write cell (size,
// clients) alone, then each reader count with all of an engine's read
// paths (they share one cluster, as in a whole-engine run).
func cellPlans(c config) []config {
	var out []config
	for _, size := range c.sizes {
		for _, n := range c.clients {
			p := c
			p.allSizes = c.sizes
			p.sizes, p.clients, p.readers = []int{size}, []int{n}, nil
			out = append(out, p)
		}
	}
	for _, n := range c.readers {
		p := c
		p.clients, p.readers = nil, []int{n}
		out = append(out, p)
	}
	return out
}

// runInterleaved runs round r of an -interleave run: every cell on each
// engine in turn (run starts a cluster for one engine and one cell's
// config, and stops it), the engine order alternating from cell to cell
// and reversed on odd rounds. It returns each engine's cells as one result.
func runInterleaved(ctx context.Context, c config, r int, run func(engine string, cell config) engineResult) map[string]engineResult {
	parts := map[string][]engineResult{}
	for i, cell := range cellPlans(c) {
		for _, name := range roundOrder(c.engines, r+i) {
			if ctx.Err() != nil {
				break
			}
			parts[name] = append(parts[name], run(name, cell))
		}
	}
	out := map[string]engineResult{}
	for name, ps := range parts {
		out[name] = joinCellRuns(ps)
	}
	return out
}

// joinCellRuns folds the one-cell runs of one engine into one result: their
// cells in order, the median start-up, every error, the worst leftovers.
func joinCellRuns(ps []engineResult) engineResult {
	out := engineResult{Engine: ps[0].Engine}
	errs := foldRunInfo(&out, ps)
	for _, p := range ps {
		if len(out.ReadPaths) == 0 {
			out.ReadPaths = p.ReadPaths
		}
		out.Writes = append(out.Writes, p.Writes...)
		out.Reads = append(out.Reads, p.Reads...)
	}
	if len(errs) > 0 {
		out.Err = errors.Join(errs...).Error()
	}
	return out
}

// foldRunInfo sets in out what several runs of one engine (rounds, or
// -interleave's one-cell runs) share: the median start-up, the first start
// error and shutdown error, the worst leftovers. It returns the runs' errors.
func foldRunInfo(out *engineResult, rs []engineResult) []error {
	var startups []float64
	var errs []error
	for _, r := range rs {
		startups = append(startups, r.StartupSec)
		if r.Err != "" {
			errs = append(errs, errors.New(r.Err))
			if out.startErr == nil {
				out.startErr = r.startErr
			}
		}
		if r.ShutdownErr != "" && out.ShutdownErr == "" {
			out.ShutdownErr = r.ShutdownErr
		}
		out.GoroutinesLeft = max(out.GoroutinesLeft, r.GoroutinesLeft)
		out.VmHWMMB = max(out.VmHWMMB, r.VmHWMMB)
	}
	out.StartupSec = medianF(startups)
	return errs
}
