// Command table reads `go test -bench` output on stdin and prints a Markdown table of the
// medians of repeated runs (-count): ns/op, B/op, allocs/op, every custom metric, and,
// for a sub-benchmark with a sibling named "floor", the median of the per-run ratios
// (the i-th run of the benchmark over the i-th run of its floor, both from the same
// process). scripts/bench runs it.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var procSuffix = regexp.MustCompile(`-\d+$`)

type result struct {
	units  []string             // in first-seen order
	values map[string][]float64 // unit → one value per run
}

func main() {
	var order []string
	res := map[string]*result{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		r := res[name]
		if r == nil {
			r = &result{values: map[string][]float64{}}
			res[name] = r
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			u := f[i+1]
			if _, ok := r.values[u]; !ok {
				r.units = append(r.units, u)
			}
			r.values[u] = append(r.values[u], v)
		}
	}
	fmt.Println("| benchmark | runs | ns/op (median) | ratio to floor (median of same-run ratios) | B/op | allocs/op | other (median) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, name := range order {
		r := res[name]
		ns := r.values["ns/op"]
		ratio := ""
		if i := strings.LastIndex(name, "/"); i > 0 && !strings.HasSuffix(name, "/floor") {
			if fl := res[name[:i]+"/floor"]; fl != nil {
				var rs []float64
				fns := fl.values["ns/op"]
				for j := 0; j < len(ns) && j < len(fns); j++ {
					if fns[j] > 0 {
						rs = append(rs, ns[j]/fns[j])
					}
				}
				if len(rs) > 0 {
					ratio = fmt.Sprintf("%.2f", median(rs))
				}
			}
		}
		var other []string
		for _, u := range r.units {
			switch u {
			case "ns/op", "B/op", "allocs/op":
				continue
			}
			other = append(other, fmt.Sprintf("%s %s", num(median(r.values[u])), u))
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", name, len(ns), num(median(ns)), ratio,
			num(median(r.values["B/op"])), num(median(r.values["allocs/op"])), strings.Join(other, ", "))
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch {
	case v < 0:
		return ""
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
