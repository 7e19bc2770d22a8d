//go:build longtest

package jsoncrypto

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"
)

// Timing checks of the unauthenticated paths, run by scripts/test's long-test step
// (-race -tags longtest -run Long). The exact checks are the same-steps tests
// (TestSecurityItem5LegacySameStepsSameError, TestAsymmetricSameStepsSameError); these only
// catch a gross difference, and are built for a shared, noisy machine, with or without the
// race detector (which makes a call ~100 times slower). The two inputs are timed in pairs,
// back to back, alternating which goes first, each sample a batch of calls of about 200 µs;
// the statistic is the median of the pairs' ratios, which a preemption or a GC pause (that
// hits one sample of a pair, either one) does not move. A try fails beyond the bound, and
// the test only when each of five tries does.

const (
	timingSamples = 301
	timingTries   = 5
)

// medianRatio times fa and fb in timingSamples interleaved pairs and returns the median of
// time(b) / time(a) over the pairs.
func medianRatio(t *testing.T, fa, fb func() error) float64 {
	t.Helper()
	timeOne := func(f func() error, batch int) time.Duration {
		start := time.Now()
		for range batch {
			if f() == nil {
				t.Fatal("an input that must fail decrypted")
			}
		}
		return time.Since(start)
	}
	d := timeOne(fa, 5) / 5 // a call's time: the least of three tries, against the noise
	for range 2 {
		d = min(d, timeOne(fa, 5)/5)
	}
	batch := 1
	if d > 0 && d < 200*time.Microsecond {
		batch = int(200 * time.Microsecond / d)
	}
	ta := make([]time.Duration, timingSamples)
	tb := make([]time.Duration, timingSamples)
	ratios := make([]float64, timingSamples)
	for i := range timingSamples {
		if i%2 == 0 {
			ta[i] = timeOne(fa, batch)
			tb[i] = timeOne(fb, batch)
		} else {
			tb[i] = timeOne(fb, batch)
			ta[i] = timeOne(fa, batch)
		}
		ratios[i] = float64(tb[i]) / float64(ta[i])
	}
	slices.Sort(ratios)
	slices.Sort(ta)
	slices.Sort(tb)
	n := timingSamples
	r := ratios[n/2]
	t.Logf("%d pairs of %d calls: median ratio %.3f (p25 %.3f, p75 %.3f); per call medians %v / %v, p10 %v / %v", n, batch,
		r, ratios[n/4], ratios[3*n/4], ta[n/2]/time.Duration(batch), tb[n/2]/time.Duration(batch),
		ta[n/10]/time.Duration(batch), tb[n/10]/time.Duration(batch))
	return r
}

// checkRatio fails when none of timingTries tries of medianRatio is within bound of 1.
func checkRatio(t *testing.T, bound float64, fa, fb func() error) {
	t.Helper()
	var r float64
	for try := 0; try < timingTries; try++ {
		if r = medianRatio(t, fa, fb); r >= 1-bound && r <= 1+bound {
			return
		}
	}
	t.Errorf("median time ratio %.3f (bound 1 ± %.2f) in each of %d tries", r, bound, timingTries)
}

// TestLongLegacyPaddingTiming (issue 13, item 5): a 4 KiB legacy value with good padding over
// text that is not JSON, and the same value with bad padding (the two differ only in the last
// byte of their plaintext), take the same time: the medians agree within 10%. (Before the
// fix the JSON check ran only for good padding: ratios 0.65 to 0.74 here.)
func TestLongLegacyPaddingTiming(t *testing.T) {
	f := newFixture(t)
	c := codec(t, f.provider(t, mapping(DefaultSecretID, aliasA)), &Options{AllowLegacy: true})
	_, badJSON, badPad := legacyTrio(t, 4096)
	dec := func(v []byte) func() error {
		return func() error { _, err := c.Decrypt(f.ctx, v); return err }
	}
	checkRatio(t, 0.10, dec(badJSON), dec(badPad))
}

// TestLongAsymmetricUnwrapTiming: with AllowAsymmetric, a value whose session key unwraps
// (PKCS#1 v1.5) but whose MAC is wrong, and one whose wrapped key has bad padding, take the
// same time: the medians agree within 10%.
func TestLongAsymmetricUnwrapTiming(t *testing.T) {
	f := newFixture(t)
	p, pub := idmProvider(t, f)
	const id = "idm.jwt.session.module.encryption"
	c := codec(t, p, &Options{SecretIDs: []string{id}, AllowAsymmetric: true})
	pt := []byte(`"s3cret"`)
	badMAC := flip(t, asymValueFor(t, pub, "openidm-localhost", id, "RSA/ECB/PKCS1Padding", pt, nil), "mac", 0)
	garbage := make([]byte, pub.Size())
	rand.Read(garbage)
	garbage[0] = 0
	badPad := asymValueFor(t, pub, "openidm-localhost", id, "RSA/ECB/PKCS1Padding", pt, garbage)
	dec := func(v []byte) func() error {
		return func() error { _, err := c.Decrypt(f.ctx, v); return err }
	}
	checkRatio(t, 0.10, dec(badMAC), dec(badPad))
}
