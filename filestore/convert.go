package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/secretstores/secretstores/secrets"
)

// ConvertToPKCS12 writes a PKCS12 copy of the keystore at src (PKCS12, JCEKS or JKS) to
// dst, as `keytool -importkeystore -deststoretype PKCS12` does: every entry with its key,
// chain, alias and creation time, under cfg.Password (PKCS#12 has one password; IDM requires
// the store and key passwords to be equal). cfg.KeyPassword, when set, decrypts src's keys.
// Point IDM's file and storetype (PKCS12) at dst afterwards; src is not touched.
//
// Errors: dst existing wraps secrets.ErrExists; dst named *.jceks or *.jks is refused (Java
// could not load it as JCEKS); errors of Open on src; a key that does not decrypt wraps
// secrets.ErrWrongPIN. It is safe to call concurrently on different files.
func ConvertToPKCS12(ctx context.Context, src string, cfg Config, dst string) error {
	if javaName(dst) {
		return fmt.Errorf("filestore: convert: %s is named like a JCEKS/JKS file; name the PKCS12 copy *.p12", dst)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("filestore: convert: %s: %w (choose a new file name)", dst, secrets.ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: convert: %w", err)
	}
	in := cfg
	in.Create, in.Watch, in.Type = false, 0, ""
	s, err := Open(ctx, src, in)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.current()
	if err != nil {
		return err
	}
	next := &state{format: PKCS12, extra: st.extra}
	for _, fe := range st.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := fe.d
		if d.key != nil && cfg.KeyPassword != "" && cfg.KeyPassword != cfg.Password {
			// Re-encrypt under the one password rather than copy the bag.
			km, err := fe.material(cfg.keyPassword())
			if err != nil {
				return &secrets.KeyError{Op: "convert", Store: s.name, Alias: d.Alias, Err: trimPrefix(err)}
			}
			d.Material, d.key = km, nil
		} else if d.key == nil {
			if _, err := fe.get(cfg.keyPassword()); err != nil {
				return &secrets.KeyError{Op: "convert", Store: s.name, Alias: d.Alias, Err: trimPrefix(err)}
			}
		}
		next.entries = append(next.entries, &fileEntry{d: d})
	}
	out := &Store{path: dst, name: dst, cfg: Config{Password: cfg.Password, Iterations: cfg.Iterations}}
	return out.withFileLock(ctx, func() error {
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("filestore: convert: %s: %w (choose a new file name)", dst, secrets.ErrExists)
		}
		return out.save(next)
	})
}
