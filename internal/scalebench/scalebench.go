// Package scalebench holds helpers of the scale benchmarks (the BenchmarkScale… functions
// that scripts/bench runs): heap measurement, the sizes to run, and a concurrency driver
// that reports latency percentiles and fairness.
package scalebench

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Sizes returns sizes, or only the first (smallest) under -short: the CI smoke run.
func Sizes(sizes ...int) []int {
	if testing.Short() {
		return sizes[:1]
	}
	return sizes
}

// Goroutines are the concurrency levels of the concurrency benchmarks.
var Goroutines = []int{1, 2, 8, 64}

// HeapAlloc returns the live heap after two collections.
func HeapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Concurrent runs op b.N times in total from g goroutines (each takes calls from a shared
// counter, so a starved goroutine shows as a small share) and reports, besides ns/op
// (wall time per call across all goroutines): p50-ns and p99-ns, the latency of single
// calls (time.Now overhead included), and min-share%, the smallest share of calls any
// goroutine made relative to an equal share (100 = perfectly fair; a starved goroutine
// shows near 0). op gets the goroutine's index.
func Concurrent(b *testing.B, g int, op func(worker int) error) {
	b.Helper()
	var (
		mu     sync.Mutex
		lat    []time.Duration
		counts = make([]int, g)
		errs   []error
	)
	n := b.N
	var taken atomic.Int64
	take := func() bool { return taken.Add(1) <= int64(n) }
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/g+1)
			<-start
			for take() {
				t0 := time.Now()
				err := op(w)
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			counts[w] = len(mine)
			mu.Unlock()
		}()
	}
	b.ResetTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	}
	if n >= 100*g {
		b.ReportMetric(100*float64(slices.Min(counts))*float64(g)/float64(n), "min-share%")
	}
}

// Name is the sub-benchmark name of a size.
func Name(what string, n int) string { return fmt.Sprintf("%s=%d", what, n) }

// Paired times op beside its floor in the same loop, alternating blocks of block calls of
// each (op first in one iteration, the floor first in the next), so that both see the same
// load on a shared machine: run-to-run drift on a loaded machine moves separate benchmarks
// by 2× and more, and a ratio of two benchmarks run seconds apart carries it. It reports
// op-ns and floor-ns (per call) and x-floor (their ratio); ns/op is a block of each. op and
// floor get the call's index; give the floor other keys than op for the same index (an op
// must not warm the floor's data).
func Paired(b *testing.B, block int, op, floor func(i int) error) {
	b.Helper()
	var tOp, tFloor time.Duration
	calls, i := 0, 0
	run := func(f func(int) error, d *time.Duration) {
		t0 := time.Now()
		for k := range block {
			if err := f(i + k); err != nil {
				b.Fatal(err)
			}
		}
		*d += time.Since(t0)
	}
	for b.Loop() {
		if calls%2 == 0 {
			run(op, &tOp)
			run(floor, &tFloor)
		} else {
			run(floor, &tFloor)
			run(op, &tOp)
		}
		calls++
		i += block
	}
	n := float64(calls * block)
	b.ReportMetric(float64(tOp)/n, "op-ns")
	b.ReportMetric(float64(tFloor)/n, "floor-ns")
	if tFloor > 0 {
		b.ReportMetric(float64(tOp)/float64(tFloor), "x-floor")
	}
}
