package filestore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"

	"github.com/secretstores/secretstores/internal/atomicfile"
)

// Config configures Open. The zero Config opens a keystore whose password is empty,
// detects its format by content, never creates a file and does not watch it.
type Config struct {
	// Password is the store password (IDM's storePassword). It checks the file's integrity
	// (PKCS#12 MAC, JCEKS/JKS keyed SHA-1) and, unless KeyPassword is set, decrypts the keys.
	Password string
	// KeyPassword is the password of the key entries when it differs from Password. IDM
	// requires both to be equal, and keytool uses one password for PKCS12; Java allows a
	// separate one for JCEKS and JKS, and for PKCS#12 entries written by other tools.
	// "" means Password. New PKCS#12 key entries are encrypted under it too.
	KeyPassword string
	// Name is the store's name (Store.Name); "" means the file's base name.
	Name string
	// Type is the store type the configuration declares (IDM's storetype). "" detects the
	// format by content. As in Java 17, JCEKS must hold a JCEKS file, and PKCS12 and JKS
	// accept either a PKCS12 or a JKS file; a mismatch is an error saying what the file is.
	Type Format
	// Create makes an empty PKCS12 keystore (mode 0600) when the file does not exist. It is
	// an error for a Type of JCEKS or JKS or a file named *.jceks or *.jks: Java could not
	// load a PKCS#12 file under that name and type.
	Create bool
	// Watch, when positive, is how often the store checks whether the file changed on disk
	// and reloads it (as Reload does). 0 means no watching: call Reload.
	Watch time.Duration
	// Iterations is the PBKDF2 and MAC iteration count used when writing. 0 means 10000,
	// Java 17's default; it must not exceed MaxIterations.
	Iterations int
	// AllowNoMAC accepts a PKCS#12 file that has no integrity MAC (openssl pkcs12 -nomac,
	// keytool with keystore.pkcs12.macAlgorithm=NONE). Java opens such files under any
	// password; here they are refused unless this is set, because nothing proves the file
	// was not altered. Encrypted contents still have to decrypt with Password.
	AllowNoMAC bool
}

func (c *Config) keyPassword() string {
	if c.KeyPassword != "" {
		return c.KeyPassword
	}
	return c.Password
}

func (c *Config) iterations() int {
	if c.Iterations <= 0 {
		return 10000
	}
	return c.Iterations
}

// Store is a secrets.Store over a keystore file: PKCS12 (read and write), JCEKS and JKS
// (read only). It implements secrets.Generator, secrets.Importer, secrets.Deleter and
// secrets.Notifier; on a JCEKS or JKS file the writes return an error wrapping
// secrets.ErrReadOnly that names the fix.
//
// PKCS#12 keys are decrypted lazily, on the first Entry of their alias, and the entry is then
// kept. Writes are read-modify-write under an advisory lock (flock on "<file>.lock"), so two
// processes using this package never lose each other's changes; the file is replaced
// atomically (temporary file in the same directory, fsync, rename, fsync of the directory),
// keeping the file's mode, owner and group (a new file has mode 0600); a file opened
// through a symbolic link is replaced where the link points.
// Untouched PKCS#12 key bags are written back byte for byte.
//
// A Store is safe for concurrent use. Entries it returned stay usable after a reload or a
// write: they keep the key they were made with.
type Store struct {
	path string
	name string
	cfg  Config

	wmu sync.Mutex // serialises writes in this process

	mu     sync.RWMutex
	st     *state
	closed bool

	subs storekit.Subscribers

	stopWatch chan struct{}
	watchDone chan struct{}
}

// state is one reading of the file.
type state struct {
	format  Format
	entries []*fileEntry // file order
	extra   [][]byte
	info    fs.FileInfo // of the file read; nil for a file not yet on disk
	index   *aliasIndex // built by reindex when the state is published; nil: scan
}

// aliasIndex maps an alias, and its lower-case form, to the first entry bearing it, so
// that a lookup in a keystore of thousands of entries does not scan them. A miss still
// scans (for the rare case-folding that lower-casing does not catch).
type aliasIndex struct {
	exact, folded map[string]int
}

// reindex builds st's alias index; a state must be re-indexed after its entries change
// (lookup checks each hit and falls back to a scan, so a stale index is slow, not wrong).
func (st *state) reindex() {
	ix := &aliasIndex{exact: make(map[string]int, len(st.entries)), folded: make(map[string]int, len(st.entries))}
	for i, e := range st.entries {
		if _, ok := ix.exact[e.d.Alias]; !ok {
			ix.exact[e.d.Alias] = i
		}
		l := strings.ToLower(e.d.Alias)
		if _, ok := ix.folded[l]; !ok {
			ix.folded[l] = i
		}
	}
	st.index = ix
}

type fileEntry struct {
	d decoded

	mu    sync.Mutex
	entry secrets.Entry
	err   error
}

func (st *state) lookup(alias string) (int, *fileEntry) {
	if ix := st.index; ix != nil {
		if i, ok := ix.exact[alias]; ok && i < len(st.entries) && st.entries[i].d.Alias == alias {
			return i, st.entries[i]
		}
		if _, ok := ix.exact[alias]; !ok {
			if i, ok := ix.folded[strings.ToLower(alias)]; ok && i < len(st.entries) && strings.EqualFold(st.entries[i].d.Alias, alias) {
				return i, st.entries[i]
			}
		}
	}
	for i, e := range st.entries {
		if e.d.Alias == alias {
			return i, e
		}
	}
	// Java keystores fold alias case.
	for i, e := range st.entries {
		if strings.EqualFold(e.d.Alias, alias) {
			return i, e
		}
	}
	return -1, nil
}

func (st *state) clone() *state {
	c := *st
	c.entries = slices.Clone(st.entries)
	c.index = nil
	return &c
}

// Open opens the keystore file at path, detecting PKCS12, JCEKS or JKS by content, and
// verifies its integrity with cfg.Password before using anything in it.
//
// Errors: ctx.Err() when ctx is done first; a wrong password (or a modified file) wraps
// secrets.ErrWrongPIN; a missing file wraps fs.ErrNotExist (unless cfg.Create); a file that
// is no keystore, is truncated, exceeds the limits (MaxFileSize, MaxIterations), or does not
// match cfg.Type is a plain error naming the problem. No error carries a password or key
// bytes.
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Iterations > MaxIterations {
		return nil, fmt.Errorf("filestore: Config.Iterations %d exceeds MaxIterations %d", cfg.Iterations, MaxIterations)
	}
	s := &Store{path: path, name: cfg.Name, cfg: cfg}
	if s.name == "" {
		s.name = filepath.Base(path)
	}
	st, err := s.read()
	if errors.Is(err, fs.ErrNotExist) && cfg.Create {
		if javaName(path) || cfg.Type == JCEKS || cfg.Type == JKS {
			return nil, fmt.Errorf("filestore: %s does not exist, and only PKCS12 keystores can be created (Java could not load a PKCS#12 file as %s): name it *.p12 and set storetype PKCS12", path, orDefault(string(cfg.Type), "JCEKS/JKS"))
		}
		st = &state{format: PKCS12}
		if err := s.withFileLock(ctx, func() error {
			if cur, err := s.read(); err == nil {
				st = cur // created meanwhile by another process
				return nil
			}
			return s.save(st)
		}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	s.st = st
	if cfg.Watch > 0 {
		s.stopWatch, s.watchDone = make(chan struct{}), make(chan struct{})
		go s.watch(cfg.Watch)
	}
	return s, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// javaName reports whether path is named like a JCEKS or JKS file, under which a PKCS#12
// file must never be written.
func javaName(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".jceks" || ext == ".jks"
}

// readFile reads at most MaxFileSize bytes of path.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %w", err)
	}
	if info.IsDir() {
		return nil, nil, fmt.Errorf("filestore: %s is a directory, not a keystore file (for a key directory use OpenDir)", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("filestore: %s is larger than %d bytes: not a keystore this package reads", path, MaxFileSize)
	}
	return data, info, nil
}

// decodeFile decodes a keystore of any supported format.
func decodeFile(data []byte, path string, cfg *Config) (*state, error) {
	switch {
	case isJavaKeyStore(data):
		format, entries, err := decodeJavaKeyStoreKeyPass(data, cfg.Password, cfg.keyPassword())
		if err != nil {
			return nil, fmt.Errorf("filestore: %s: %w", path, trimPrefix(err))
		}
		if err := checkType(path, cfg.Type, format); err != nil {
			return nil, err
		}
		st := &state{format: format}
		for _, d := range entries {
			st.entries = append(st.entries, &fileEntry{d: d})
		}
		st.reindex()
		return st, nil
	case foreignFormat(path, data) != nil:
		return nil, foreignFormat(path, data)
	case looksLikePKCS12(data):
		if err := checkType(path, cfg.Type, PKCS12); err != nil {
			return nil, err
		}
		f, err := decodePKCS12Opts(data, cfg.Password, cfg.AllowNoMAC)
		if err != nil {
			return nil, fmt.Errorf("filestore: %s: %w", path, trimPrefix(err))
		}
		st := &state{format: PKCS12, extra: f.extra}
		for _, d := range f.entries {
			st.entries = append(st.entries, &fileEntry{d: d})
		}
		st.reindex()
		return st, nil
	case len(data) == 0:
		return nil, fmt.Errorf("filestore: %s is empty, not a keystore (an empty PKCS12 keystore still has a header: create one with Config.Create)", path)
	}
	return nil, fmt.Errorf("filestore: %s is not a keystore this package reads: neither PKCS#12 nor JCEKS/JKS (magic CECECECE/FEEDFEED), nor a format it recognises (BKS, UBER, BCFKS, PEM); if Java reads it, convert it with `keytool -importkeystore -srckeystore %s -srcstoretype TYPE -destkeystore keystore.p12 -deststoretype PKCS12`", path, path)
}

// trimPrefix drops the "filestore: " of an inner error so that messages read once.
type trimmed struct {
	msg string
	err error
}

func (t *trimmed) Error() string { return t.msg }
func (t *trimmed) Unwrap() error { return t.err }

func trimPrefix(err error) error {
	msg, ok := strings.CutPrefix(err.Error(), "filestore: ")
	if !ok {
		return err
	}
	return &trimmed{msg: msg, err: err}
}

func checkType(path string, want, have Format) error {
	switch {
	case want == "" || want == have:
		return nil
	case want == JCEKS:
		return fmt.Errorf("filestore: %s is a %s keystore, but storetype is JCEKS: Java's JCEKS loader reads only JCEKS files; set storetype %s", path, have, have)
	case (want == JKS || want == PKCS12) && (have == JKS || have == PKCS12):
		return nil // Java 17's keystore compatibility mode
	case want == JKS || want == PKCS12:
		return fmt.Errorf("filestore: %s is a %s keystore, but storetype is %s: set storetype %s", path, have, want, have)
	}
	return fmt.Errorf("filestore: storetype %q is not a keystore file type this package reads (PKCS12, JCEKS, JKS; PKCS11 is package hsmstore)", want)
}

func (s *Store) read() (*state, error) {
	data, info, err := readFile(s.path)
	if err != nil {
		return nil, err
	}
	st, err := decodeFile(data, s.path, &s.cfg)
	if err != nil {
		return nil, err
	}
	st.info = info
	return st, nil
}

// Name returns the store's name: Config.Name, or the file's base name.
func (s *Store) Name() string { return s.name }

// Path returns the keystore file's path.
func (s *Store) Path() string { return s.path }

// Format returns the format of the file as last read.
func (s *Store) Format() Format {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.format
}

func (s *Store) current() (*state, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("filestore: store %s: %w", s.name, secrets.ErrClosed)
	}
	return s.st, nil
}

// Entry returns the entry under alias (Java keystores fold case: an exact match wins, else
// a case-insensitive one). A PKCS#12 key is decrypted on first use.
//
// Aliases are reported as Java reports them: PKCS#12 aliases in lower case (Java's
// PKCS12KeyStore folds them), entries without a friendlyName as "1", "2", ...
//
// Errors: ctx.Err(); secrets.ErrClosed; a *secrets.KeyError wrapping secrets.ErrNotFound
// for an unknown alias, wrapping secrets.ErrWrongPIN when the key does not decrypt with
// the key password, or wrapping errors.ErrUnsupported, naming the algorithm or curve, for a
// key or certificate Go cannot use (DSA, secp256k1, ...): the other entries still work.
func (s *Store) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := s.current()
	if err != nil {
		return nil, err
	}
	_, fe := st.lookup(alias)
	if fe == nil {
		return nil, &secrets.KeyError{Op: "lookup", Store: s.name, Alias: alias, Err: secrets.ErrNotFound}
	}
	e, err := fe.get(s.cfg.keyPassword())
	if err != nil {
		return nil, &secrets.KeyError{Op: "lookup", Store: s.name, Alias: alias, Err: trimPrefix(err)}
	}
	return e, nil
}

func (fe *fileEntry) get(keyPassword string) (secrets.Entry, error) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.entry != nil || fe.err != nil {
		return fe.entry, fe.err
	}
	km, err := fe.material(keyPassword)
	if errors.Is(err, errDSAKey) {
		if e, ok := newDSAEntry(fe.d.Alias, fe.d.Material.Chain); ok {
			fe.entry = e
			return e, nil
		}
	}
	if err != nil {
		fe.err = err
		return nil, err
	}
	fe.entry, fe.err = storekit.NewSoftwareEntry(fe.d.Alias, km)
	return fe.entry, fe.err
}

// material returns the entry's key material, decrypting it if needed (not cached).
func (fe *fileEntry) material(keyPassword string) (secrets.KeyMaterial, error) {
	if fe.d.err != nil {
		return secrets.KeyMaterial{}, fe.d.err
	}
	if fe.d.key == nil {
		return fe.d.Material, nil
	}
	km, err := fe.d.key.decrypt(keyPassword)
	if err != nil {
		return km, err
	}
	km.Chain = fe.d.Material.Chain
	return km, nil
}

// KeyMaterial returns the key material of alias (Secret and Chain are copies): the secret bytes, or the private
// key with its chain, or the trusted certificate. It is for moving keys between stores
// (keytool -importkeystore onto an HSM); to use a key, use Entry, which keeps the key inside.
// The caller should clear KeyMaterial.Secret when done.
//
// Errors: as Entry.
func (s *Store) KeyMaterial(ctx context.Context, alias string) (secrets.KeyMaterial, error) {
	if err := ctx.Err(); err != nil {
		return secrets.KeyMaterial{}, err
	}
	st, err := s.current()
	if err != nil {
		return secrets.KeyMaterial{}, err
	}
	_, fe := st.lookup(alias)
	if fe == nil {
		return secrets.KeyMaterial{}, &secrets.KeyError{Op: "export", Store: s.name, Alias: alias, Err: secrets.ErrNotFound}
	}
	km, err := fe.material(s.cfg.keyPassword())
	if err != nil {
		return secrets.KeyMaterial{}, &secrets.KeyError{Op: "export", Store: s.name, Alias: alias, Err: trimPrefix(err)}
	}
	km.Secret = bytes.Clone(km.Secret)
	km.Chain = slices.Clone(km.Chain)
	km.Extractable = true
	return km, nil
}

// Aliases returns every alias of the store, sorted.
func (s *Store) Aliases(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := s.current()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(st.entries))
	for _, e := range st.entries {
		out = append(out, e.d.Alias)
	}
	slices.Sort(out)
	return out, nil
}

// Created returns the creation time the file records for alias (Java's entry date), or
// the zero time when it records none.
func (s *Store) Created(ctx context.Context, alias string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	st, err := s.current()
	if err != nil {
		return time.Time{}, err
	}
	_, fe := st.lookup(alias)
	if fe == nil {
		return time.Time{}, &secrets.KeyError{Op: "lookup", Store: s.name, Alias: alias, Err: secrets.ErrNotFound}
	}
	return fe.d.Created, nil
}

// Close stops watching and makes further calls fail with secrets.ErrClosed. It is
// idempotent; entries already returned stay usable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stopWatch != nil {
		close(s.stopWatch)
		<-s.watchDone
	}
	return nil
}

// Subscribe registers f to be called after the store's entries change: after a write
// through this Store (Aliases = the aliases written), and after Reload or the watcher found
// the file changed on disk (Aliases nil). f runs on the goroutine that made the change and
// must not block.
func (s *Store) Subscribe(f func(secrets.Change)) (unsubscribe func()) {
	return s.subs.Subscribe(f)
}

func (s *Store) notify(aliases []string) {
	s.subs.Notify(secrets.Change{Store: s.name, Aliases: aliases})
}

// sameFile reports whether the file on disk is still the one st was read from.
func sameFile(st *state, info fs.FileInfo) bool {
	return st.info != nil && info != nil && os.SameFile(st.info, info) &&
		st.info.Size() == info.Size() && st.info.ModTime().Equal(info.ModTime())
}

// Reload rereads the file when it changed on disk since it was last read (keytool wrote
// it, another process rotated a key) and notifies subscribers. It reports whether the
// entries were replaced. On an error (a half-written file, a wrong password now) the store
// keeps serving what it had.
func (s *Store) Reload(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	st, err := s.current()
	if err != nil {
		return false, err
	}
	info, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("filestore: reload: %w", err)
	}
	if sameFile(st, info) {
		return false, nil
	}
	nst, err := s.read()
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, fmt.Errorf("filestore: store %s: %w", s.name, secrets.ErrClosed)
	}
	s.st = nst
	s.mu.Unlock()
	s.notify(nil)
	return true, nil
}

func (s *Store) watch(every time.Duration) {
	defer close(s.watchDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopWatch:
			return
		case <-t.C:
			// Errors (a file half-written in place by keytool, say) leave the old entries in
			// service; the next tick tries again.
			_, _ = s.Reload(context.Background())
		}
	}
}

// ---- writing ----

// readOnly returns why the store cannot be written, or nil.
func (s *Store) readOnly(st *state, op, alias string) error {
	if st.format != PKCS12 {
		return &secrets.KeyError{Op: op, Store: s.name, Alias: alias, Err: fmt.Errorf(
			"%s keystore %s cannot be written (this package writes only PKCS12): convert it with "+
				"`keytool -importkeystore -srckeystore %s -srcstoretype %s -destkeystore keystore.p12 -deststoretype PKCS12` "+
				"or filestore.ConvertToPKCS12, then set storetype PKCS12 and the new file name: %w",
			st.format, s.path, s.path, st.format, secrets.ErrReadOnly)}
	}
	if javaName(s.path) {
		return &secrets.KeyError{Op: op, Store: s.name, Alias: alias, Err: fmt.Errorf(
			"%s holds PKCS#12 but is named like a JCEKS/JKS file; rename it *.p12 and set storetype PKCS12 before writing: %w",
			s.path, secrets.ErrReadOnly)}
	}
	return nil
}

// modify runs fn on a copy of the store's current state, read afresh from disk under the
// file lock when another writer changed it, saves the result and publishes it. fn returns
// the aliases it changed.
func (s *Store) modify(ctx context.Context, op, alias string, fn func(st *state) ([]string, error)) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := s.current()
	if err != nil {
		return nil, err
	}
	if err := s.readOnly(st, op, alias); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var changed []string
	reloaded := false
	err = s.withFileLock(ctx, func() error {
		st, err := s.current()
		if err != nil {
			return err
		}
		info, err := os.Stat(s.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filestore: %w", err)
		}
		if err == nil && !sameFile(st, info) {
			if st, err = s.read(); err != nil {
				return err
			}
			reloaded = true
			if err := s.readOnly(st, op, alias); err != nil {
				return err
			}
		}
		removeStaleTemps(realPath(s.path))
		next := st.clone()
		if changed, err = fn(next); err != nil {
			return err
		}
		next.reindex()
		if err := s.save(next); err != nil {
			return err
		}
		s.mu.Lock()
		s.st = next
		s.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reloaded {
		s.notify(nil)
	}
	s.notify(changed)
	return changed, nil
}

// save encodes st as PKCS#12 and replaces the file atomically; it sets st.info.
func (s *Store) save(st *state) error {
	w := &p12Writer{password: s.cfg.Password, keyPass: s.cfg.keyPassword(), iterations: s.cfg.iterations()}
	data, err := w.encode(outs(st), st.extra)
	if err != nil {
		return err
	}
	info, err := writeAtomic(realPath(s.path), data)
	if err != nil {
		return err
	}
	st.info = info
	if savedHook != nil {
		savedHook(data, s.cfg.Password, s.cfg.keyPassword())
	}
	return nil
}

// savedHook, when set (by the tests), sees every file this package writes, so that the test
// binary can have Java load each of them.
var savedHook func(data []byte, password, keyPassword string)

// realPath returns path with symbolic links resolved, so that a keystore opened through a
// link is replaced where the link points (as keytool writes it) and the link stays; path
// itself when it cannot be resolved (a file not yet created).
func realPath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

func outs(st *state) []p12Out {
	used := map[string]bool{}
	for _, e := range st.entries {
		if e.d.localKeyID != nil {
			used[string(e.d.localKeyID)] = true
		}
	}
	out := make([]p12Out, 0, len(st.entries))
	for _, e := range st.entries {
		o := p12Out{alias: e.d.Alias, localKeyID: e.d.localKeyID, km: e.d.Material}
		if e.d.key != nil {
			o.raw = e.d.key.raw
		}
		if o.localKeyID == nil && o.km.Kind != secrets.KindCertificate {
			e.d.localKeyID = uniqueLocalKeyID(e.d.Created, used)
			o.localKeyID = e.d.localKeyID
		}
		out = append(out, o)
	}
	return out
}

func uniqueLocalKeyID(t time.Time, used map[string]bool) []byte {
	if t.IsZero() {
		t = time.Now()
	}
	for {
		id := newLocalKeyID(t)
		if !used[string(id)] {
			used[string(id)] = true
			return id
		}
		t = t.Add(time.Millisecond)
	}
}

// writeAtomic replaces path with data: a temporary file in the same directory, written,
// fsynced and renamed over path, then the directory fsynced. An existing file's mode, owner
// and group are kept (owner and group where the process may set them); a new file has
// mode 0600.
func writeAtomic(path string, data []byte) (fs.FileInfo, error) {
	if err := atomicfile.Replace(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("filestore: saving %s: %w", path, err)
	}
	return os.Stat(path)
}

// removeStaleTemps deletes the temporary files of saves that never finished (a writer
// killed between create and rename). The caller holds the file lock, so no other writer of
// this package is in the middle of a save.
func removeStaleTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), atomicfile.TempPattern(globEscape(filepath.Base(path)))))
	for _, m := range matches {
		os.Remove(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

func (s *Store) withFileLock(ctx context.Context, fn func() error) error {
	// The lock sits beside the file the link resolves to, so that writers naming the file
	// through different links share it.
	unlock, err := lockFile(ctx, realPath(s.path)+".lock")
	if err != nil {
		return fmt.Errorf("filestore: locking %s: %w", s.path, err)
	}
	defer unlock()
	return fn()
}

func (s *Store) exists(alias string) error {
	st, err := s.current()
	if err != nil {
		return err
	}
	if _, fe := st.lookup(alias); fe != nil {
		return &secrets.KeyError{Op: "write", Store: s.name, Alias: alias, Err: secrets.ErrExists}
	}
	return s.readOnly(st, "write", alias)
}

func checkAlias(alias string) error {
	if alias == "" || len(alias) > 1024 || strings.ContainsRune(alias, 0) {
		return fmt.Errorf("filestore: alias %q: want 1 to 1024 bytes without NUL", alias)
	}
	return nil
}

// Generate creates a key as spec describes (storekit.GenerateKeyMaterial: random secret
// keys; RSA and EC key pairs with a self-signed certificate) and saves it under alias.
//
// With overwrite, an entry under alias is replaced, as Import with overwrite replaces it.
//
// Errors: a *secrets.KeyError wrapping secrets.ErrExists when the alias is taken (ignoring
// case, as Java does) and overwrite is false, or secrets.ErrReadOnly on a JCEKS or JKS file;
// ctx.Err(); secrets.ErrClosed; spec errors.
func (s *Store) Generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	if err := checkAlias(alias); err != nil {
		return nil, err
	}
	if !overwrite {
		if err := s.exists(alias); err != nil {
			return nil, err
		}
	}
	if spec.Kind.Private() && len(spec.Subject.ToRDNSequence()) == 0 {
		// Java refuses a keystore holding a certificate with an empty issuer DN; keytool
		// requires a name. Default to CN=<alias>, as hsmstore.Generate does.
		spec.Subject = pkix.Name{CommonName: alias}
	}
	km, err := storekit.GenerateKeyMaterial(spec)
	if err != nil {
		return nil, err
	}
	return s.put(ctx, "generate", alias, km, overwrite)
}

// Import saves key under alias. Private keys need their certificate chain (Java's
// PKCS12 KeyStore requires one); secret keys need a Java algorithm name with a PKCS#12 OID
// ("AES", "HmacSHA256", ...; empty means the natural one for the kind).
//
// Errors: a *secrets.KeyError wrapping secrets.ErrExists when the alias is taken and
// overwrite is false, or secrets.ErrReadOnly on a JCEKS or JKS file; invalid material;
// ctx.Err(); secrets.ErrClosed.
func (s *Store) Import(ctx context.Context, alias string, key secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	if err := checkAlias(alias); err != nil {
		return nil, err
	}
	if key.Kind.Private() && len(key.Chain) == 0 {
		return nil, &secrets.KeyError{Op: "import", Store: s.name, Alias: alias, Err: errors.New("a private key needs its certificate chain in a keystore (make a self-signed one with storekit.SelfSignedCertificate)")}
	}
	if c, ok := emptyDNSelfSigned(key); ok {
		// A self-signed certificate with an empty name (what storekit.GenerateKeyMaterial
		// makes from a KeySpec without Subject): issue it again as CN=<alias>, as Generate
		// does, since Java would refuse the whole keystore.
		nc, err := storekit.SelfSignedCertificate(key.Private.(crypto.Signer), secrets.KeySpec{
			Subject: pkix.Name{CommonName: alias}, NotBefore: c.NotBefore, NotAfter: c.NotAfter})
		if err != nil {
			return nil, &secrets.KeyError{Op: "import", Store: s.name, Alias: alias, Err: err}
		}
		key.Chain = []*x509.Certificate{nc}
	}
	if err := javaAcceptsChain(key.Chain); err != nil {
		return nil, &secrets.KeyError{Op: "import", Store: s.name, Alias: alias, Err: err}
	}
	if key.Kind.Symmetric() {
		if _, err := secretKeyOID(key); err != nil {
			return nil, &secrets.KeyError{Op: "import", Store: s.name, Alias: alias, Err: trimPrefix(err)}
		}
	}
	if _, err := storekit.NewSoftwareEntry(alias, key); err != nil {
		return nil, err
	}
	return s.put(ctx, "import", alias, key, overwrite)
}

func (s *Store) put(ctx context.Context, op, alias string, km secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	km.Secret = bytes.Clone(km.Secret)
	km.Chain = slices.Clone(km.Chain)
	if km.Kind.Symmetric() && km.Algorithm == "" {
		km.Algorithm = map[secrets.Kind]string{secrets.KindSecret: "HmacSHA256", secrets.KindAES: "AES"}[km.Kind]
	}
	km.Extractable = true
	entry, err := storekit.NewSoftwareEntry(alias, km)
	if err != nil {
		return nil, err
	}
	_, err = s.modify(ctx, op, alias, func(st *state) ([]string, error) {
		fe := &fileEntry{d: decoded{Alias: alias, Created: time.Now(), Material: km}, entry: entry}
		i, old := st.lookup(alias)
		switch {
		case old != nil && !overwrite:
			return nil, &secrets.KeyError{Op: op, Store: s.name, Alias: alias, Err: secrets.ErrExists}
		case old != nil:
			fe.d.Alias = old.d.Alias
			st.entries[i] = fe
		default:
			st.entries = append(st.entries, fe)
		}
		return []string{fe.d.Alias}, nil
	})
	if err != nil {
		return nil, err
	}
	return entry, nil
}

// Delete removes alias (case folded as in Entry) and saves the file.
//
// Errors: a *secrets.KeyError wrapping secrets.ErrNotFound when the alias is absent, or
// secrets.ErrReadOnly on a JCEKS or JKS file; ctx.Err(); secrets.ErrClosed.
func (s *Store) Delete(ctx context.Context, alias string) error {
	_, err := s.modify(ctx, "delete", alias, func(st *state) ([]string, error) {
		i, fe := st.lookup(alias)
		if fe == nil {
			return nil, &secrets.KeyError{Op: "delete", Store: s.name, Alias: alias, Err: secrets.ErrNotFound}
		}
		st.entries = slices.Delete(st.entries, i, i+1)
		return []string{fe.d.Alias}, nil
	})
	return err
}

var (
	_ secrets.Store     = (*Store)(nil)
	_ secrets.Generator = (*Store)(nil)
	_ secrets.Importer  = (*Store)(nil)
	_ secrets.Deleter   = (*Store)(nil)
	_ secrets.Notifier  = (*Store)(nil)
)

// emptyDN is the DER of an empty Name (an empty SEQUENCE).
var emptyDN = []byte{0x30, 0x00}

// javaAcceptsChain refuses certificates Java's X509CertImpl rejects when it loads a keystore
// (and with them the whole keystore): an empty issuer DN ("Empty issuer DN not allowed in
// X509Certificates"), and an empty subject DN without a critical subjectAltName extension.
func javaAcceptsChain(chain []*x509.Certificate) error {
	for i, c := range chain {
		if len(c.RawIssuer) == 0 || bytes.Equal(c.RawIssuer, emptyDN) {
			return fmt.Errorf("certificate %d of the chain has an empty issuer DN, which Java refuses (and with it the whole keystore): issue it with a subject name (secrets.KeySpec.Subject)", i)
		}
		if bytes.Equal(c.RawSubject, emptyDN) && !criticalSAN(c) {
			return fmt.Errorf("certificate %d of the chain has an empty subject DN without a critical subjectAltName, which Java refuses: issue it with a subject name (secrets.KeySpec.Subject)", i)
		}
	}
	return nil
}

func criticalSAN(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			return e.Critical
		}
	}
	return false
}

// emptyDNSelfSigned returns the certificate of a key pair whose only certificate is
// self-signed under an empty name and matches its private key.
func emptyDNSelfSigned(km secrets.KeyMaterial) (*x509.Certificate, bool) {
	if !km.Kind.Private() || len(km.Chain) != 1 {
		return nil, false
	}
	c := km.Chain[0]
	if !bytes.Equal(c.RawIssuer, emptyDN) || !bytes.Equal(c.RawSubject, emptyDN) || c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
		return nil, false
	}
	k, ok := km.Private.(crypto.Signer)
	if !ok {
		return nil, false
	}
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return nil, false
	}
	return c, true
}
