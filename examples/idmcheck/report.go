package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Status is the outcome of one check.
type Status int

// The three outcomes, in increasing severity.
const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) String() string { return [...]string{"ok", "warning", "error"}[s] }

// MarshalJSON writes the status as "ok", "warning" or "error".
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s Status) symbol() string { return [...]string{"✓", "⚠", "✗"}[s] }

// The groups results are printed in, in this order.
var groups = []string{"files", "stores", "mappings", "keys", "certificates", "crypto", "session"}

var groupTitles = map[string]string{
	"files":        "Files and expressions",
	"stores":       "Stores",
	"mappings":     "Mappings",
	"keys":         "IDM key rules",
	"certificates": "Certificates",
	"crypto":       "$crypto values in conf/",
	"session":      "Session module (authentication.json)",
}

// A Result is one line of the report. Nothing in it is a password, a PIN, a property value
// or key material: messages name files, stores, aliases, properties and kinds only.
type Result struct {
	Group   string `json:"group"`
	Status  Status `json:"status"`
	Check   string `json:"check"`   // a stable identifier, e.g. "store.open"
	Subject string `json:"subject"` // what was checked: a file, a store, store/alias
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"` // for errors (and some warnings): what to run or change
}

// A Report collects results.
type Report struct {
	Results []Result `json:"results"`
	scrub   []string
}

func (r *Report) add(group string, st Status, check, subject, msg, fix string) {
	r.Results = append(r.Results, Result{Group: group, Status: st, Check: check, Subject: subject, Message: msg, Fix: fix})
}

// secret registers a value that must never appear in the output (a password or PIN the
// checker read); Write replaces any occurrence, as a last line of defence.
func (r *Report) secret(v string) {
	if len(v) >= 3 {
		r.scrub = append(r.scrub, v)
	}
}

func (r *Report) clean(s string) string {
	for _, v := range r.scrub {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// Worst returns the most severe status reported (OK when there are no results).
func (r *Report) Worst() Status {
	w := OK
	for _, res := range r.Results {
		w = max(w, res.Status)
	}
	return w
}

func (r *Report) counts() (ok, warn, fail int) {
	for _, res := range r.Results {
		switch res.Status {
		case OK:
			ok++
		case Warn:
			warn++
		default:
			fail++
		}
	}
	return
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	ok, warn, fail := r.counts()
	out := struct {
		Results []Result `json:"results"`
		OK      int      `json:"ok"`
		Warn    int      `json:"warnings"`
		Fail    int      `json:"errors"`
		Status  Status   `json:"status"`
	}{Results: make([]Result, len(r.Results)), OK: ok, Warn: warn, Fail: fail, Status: r.Worst()}
	for i, res := range r.Results {
		res.Subject, res.Message, res.Fix = r.clean(res.Subject), r.clean(res.Message), r.clean(res.Fix)
		out.Results[i] = res
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteText writes the report for people, grouped, with ANSI colours when colour is set.
func (r *Report) WriteText(w io.Writer, colour bool) {
	paint := func(st Status, s string) string {
		if !colour {
			return s
		}
		return [...]string{"\x1b[32m", "\x1b[33m", "\x1b[31m"}[st] + s + "\x1b[0m"
	}
	bold := func(s string) string {
		if !colour {
			return s
		}
		return "\x1b[1m" + s + "\x1b[0m"
	}
	first := true
	for _, g := range groups {
		var rs []Result
		for _, res := range r.Results {
			if res.Group == g {
				rs = append(rs, res)
			}
		}
		if len(rs) == 0 {
			continue
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		fmt.Fprintln(w, bold(groupTitles[g]))
		for _, res := range rs {
			line := res.Message
			if res.Subject != "" {
				line = res.Subject + ": " + line
			}
			fmt.Fprintf(w, "  %s %s\n", paint(res.Status, res.Status.symbol()), r.clean(line))
			if res.Fix != "" {
				for i, l := range strings.Split(r.clean(res.Fix), "\n") {
					lead := "      fix: "
					if i > 0 {
						lead = "           "
					}
					fmt.Fprintf(w, "%s%s\n", lead, l)
				}
			}
		}
	}
	ok, warn, fail := r.counts()
	fmt.Fprintf(w, "\n%d ok, %d warning(s), %d error(s)\n", ok, warn, fail)
}

// isTerminal reports whether f is a character device (a terminal), for colour.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
