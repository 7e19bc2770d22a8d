package hsmstore

import (
	"time"

	"github.com/secretstores/secretstores/secrets"
)

// ErrUnavailable is wrapped by the errors of calls that failed because the token could not
// be reached or did not work: a fault that recovery did not cure (the call was retried
// once), a failed reconnect, or a call refused at once while the token is away (between
// reconnect attempts). The wrapped PKCS#11 error, when there is one, says more
// (errors.As with a pkcs11.Error). After a rejected PIN on a re-login the error also wraps
// secrets.ErrWrongPIN.
//
// Such a call did nothing: it never yields a wrong result, and "not found" is never
// reported for a token that is logged out or away.
//
// errors.Is(err, secrets.ErrUnavailable) holds too, so callers that know only package secrets
// (a Provider's user, jwtsession, jsoncrypto) can tell an outage from a missing key.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string        { return "hsmstore: token unavailable" }
func (unavailableError) Is(target error) bool { return target == secrets.ErrUnavailable }

// Stats is a snapshot of one token connection's counters, shared by every Store on the
// same (library, token) in the process. Counters only grow; export them as monotonic
// counters (Prometheus counters, expvar) and the rest as gauges.
type Stats struct {
	// Operations counts calls that reached the connection: lookups, listings, key
	// operations, key management and Ping.
	Operations uint64
	// Errors counts calls that failed because of the token or the connection: errors
	// wrapping ErrUnavailable, PKCS#11 faults, session pool timeouts. A missing alias, a bad
	// MAC or a cancelled context is not counted.
	Errors uint64
	// Faults counts PKCS#11 faults seen (lost login, invalid session or handle, device
	// error or removal, token not present, an empty search on a logged-out token).
	Faults uint64
	// Recoveries and FailedRecoveries count recovery attempts (one re-login or module
	// re-initialisation shared by every caller) that succeeded and that failed.
	Recoveries       uint64
	FailedRecoveries uint64
	// Relogins counts C_Login calls after the first; Reinits, module re-initialisations
	// (C_Finalize + C_Initialize) attempted.
	Relogins uint64
	Reinits  uint64
	// Retries counts calls run again after a fault.
	Retries uint64
	// FailedFast counts calls refused at once while the token was away.
	FailedFast uint64
	// PoolWaits counts calls that waited for a free session (all MaxSessions in use);
	// PoolTimeouts, those that gave up after PoolWaitTimeout.
	PoolWaits    uint64
	PoolTimeouts uint64
	// ProbedAlive and ProbedDown count the probes of the token (C_GetSessionInfo and
	// C_GetTokenInfo) run after an operation met an unexpected return code
	// (CKR_DEVICE_ERROR, CKR_GENERAL_ERROR, ...): ProbedAlive, those that found the token
	// answering, after which the call got its own error (a MAC or tag check that failed
	// wraps secrets.ErrVerification) and nothing was recovered; ProbedDown, those that
	// found a fault, counted in Faults too, after which recovery ran.
	ProbedAlive uint64
	ProbedDown  uint64

	// Sessions is the number of sessions the connection has open now (in use and idle),
	// IdleSessions the idle ones, MaxSessions the bound.
	Sessions     int
	IdleSessions int
	MaxSessions  int
	// Up is false while the token is away (or the PIN was rejected on a re-login); then
	// DownSince says since when.
	Up        bool
	DownSince time.Time
	// LastFault is the text of the last fault, e.g. "pkcs11: 0x30: CKR_DEVICE_ERROR". It
	// never holds a PIN or key bytes.
	LastFault string
}
