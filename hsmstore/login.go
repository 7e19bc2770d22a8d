//go:build cgo

package hsmstore

import (
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

// loginOwn makes sure the application is logged in to the token: one C_Login, or none when
// a session of the process is logged in already (PKCS#11 logins are per application: another
// component of the process, crypto11 say, may have logged in; the PIN cannot then be checked
// without logging that component out, and is not). The session used goes into the pool.
// Called with c.mu held for writing, or before c is shared.
func (c *conn) loginOwn(count bool) error {
	sh, err := c.p11.OpenSession(c.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsmstore: C_OpenSession: %w", err)
	}
	if err := c.loginSession(sh, count); err != nil {
		_ = c.p11.CloseSession(sh)
		return err
	}
	c.pool.add(sh)
	return nil
}

// loginSession logs the application in through sh unless it is logged in. A rejected PIN
// sets c.pinErr.
func (c *conn) loginSession(sh pkcs11.SessionHandle, count bool) error {
	info, err := c.p11.GetSessionInfo(sh)
	if err != nil {
		return fmt.Errorf("hsmstore: C_GetSessionInfo: %w", err)
	}
	if info.State == pkcs11.CKS_RO_USER_FUNCTIONS || info.State == pkcs11.CKS_RW_USER_FUNCTIONS || c.tok.Flags&pkcs11.CKF_LOGIN_REQUIRED == 0 {
		return nil
	}
	if count {
		c.st.relogins.Add(1)
	}
	err = c.p11.Login(sh, pkcs11.CKU_USER, c.pin)
	switch {
	case err == nil || isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		if count {
			c.log.Info("hsmstore: logged in again", "token", c.tok.Label, "serial", c.tok.SerialNumber)
		}
		return nil
	case isPINError(err):
		if count {
			c.setPINErr(err)
		}
		return err
	}
	return fmt.Errorf("hsmstore: C_Login: %w", err)
}

func (c *conn) setPINErr(err error) {
	c.log.Error("hsmstore: the token rejected the PIN on a re-login; not trying again (close and reopen the store with the right PIN)", "token", c.tok.Label, "serial", c.tok.SerialNumber, "error", err)
	c.mod.recMu.Lock()
	c.pinErr = fmt.Errorf("hsmstore: token %q: %w: %w: the token rejected the PIN on a re-login (%w); no further C_Login is attempted", c.tok.Label, ErrUnavailable, secrets.ErrWrongPIN, err)
	c.mod.recMu.Unlock()
}
