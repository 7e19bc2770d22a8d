package filestore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// DirFormat is how the files of a key directory encode their secret, as IDM's FileSystemStore
// "format" setting names it.
type DirFormat string

// The formats of IDM's FileSystemStore.
const (
	DirPlain     DirFormat = "PLAIN"     // the file's bytes are the secret, as they are (no newline trimming)
	DirBase64    DirFormat = "BASE64"    // standard base64, padded or not; whitespace ignored
	DirBase64URL DirFormat = "BASE64URL" // URL-safe base64, padded or not; whitespace ignored
	DirPEM       DirFormat = "PEM"       // PEM: a private key with its certificates, or certificates
)

// Limits of OpenDir.
const (
	// DefaultDirMaxFileSize is the largest file a DirStore reads when DirConfig.MaxFileSize
	// is 0; a larger file is listed but its Entry fails.
	DefaultDirMaxFileSize = 256 << 10
	// MaxDirFiles is the most files a DirStore serves; a directory holding more is an error.
	MaxDirFiles = 10000
)

// DirConfig configures OpenDir.
type DirConfig struct {
	// Name is the store's name (DirStore.Name); "" means the directory's base name.
	Name string
	// Format is how every file encodes its secret; "" means PLAIN.
	Format DirFormat
	// VersionSuffix, when set (IDM uses ".v"), makes <id><suffix><N> version N of secret
	// <id>, N a positive decimal without leading zeros. See DirStore for the aliases.
	VersionSuffix string
	// SecretKind is the kind of a PLAIN, BASE64 or BASE64URL secret: secrets.KindSecret
	// (a generic or HMAC secret; the default when 0) or secrets.KindAES (the file must
	// then hold 16, 24 or 32 bytes).
	SecretKind secrets.Kind
	// MaxFileSize caps the bytes read from one file; 0 means DefaultDirMaxFileSize.
	MaxFileSize int64
}

// DirStore is a secrets.Store over a directory with one file per secret: IDM's
// FileSystemStore. The file name is the secret id. It is read-only: the directory is managed
// by whoever deploys the secrets (a Kubernetes secret mount, say).
//
// # Files
//
// Regular files (or symbolic links to them) directly in the directory are served; names
// starting with "." (editor temp files, Kubernetes' ..data) and subdirectories are ignored.
// With DirPEM a file holding a private key ("PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE
// KEY") becomes a KindRSA or KindEC entry whose chain is the file's CERTIFICATE blocks, the one
// matching the key first; a file holding only certificates becomes a KindCertificate entry.
// Encrypted PEM keys are not supported. With the other formats the decoded bytes are a
// KindSecret entry (or KindAES, see DirConfig.SecretKind). Secrets are always extractable.
// A file that cannot be decoded is still listed; its Entry fails with an error naming the file.
//
// # Versions and rotation
//
// With a VersionSuffix (say ".v"), the files jwt.v1, jwt.v2, jwt.v3 are versions of the
// secret id "jwt", and the highest version is active, as in IDM. A plain file "jwt" next to
// them counts as version 0: the oldest, never active while a version file exists (it keeps
// "jwt" as its entry's alias, so data written under it before the first version file still
// finds it among the valid keys). The aliases are:
//
//   - "jwt.v1", "jwt.v2", "jwt.v3": each version, by its file name. Aliases lists these (and
//     the names of unversioned files), and their entries report them as their alias.
//   - "jwt": the active (highest) version. Its entry reports the concrete alias, "jwt.v3", so
//     output that carries the alias (a JWT kid, a $crypto stableId) names the exact key and
//     still resolves after the next rotation.
//   - "jwt.v-1", "jwt.v-2": the version one, two below the active one (here jwt.v2, jwt.v1),
//     again reporting their concrete aliases.
//
// A mapping with aliases ["jwt", "jwt.v-1", "jwt.v-2"] (see RotationAliases) therefore gives
// Active = the highest version and Valid = the three highest, and keeps doing so when a new
// version file appears, without changing the mapping: call Reload, which notifies the Provider.
// Versions that do not exist are skipped by the Provider. Without a VersionSuffix the file
// name is the only alias.
//
// # Changes and concurrency
//
// The directory is read by OpenDir and by Reload, which re-reads every file and, when anything
// changed, notifies subscribers (secrets.Notifier) before returning. Entries already handed out
// keep their keys. A DirStore is safe for concurrent use.
type DirStore struct {
	dir  string
	name string
	cfg  DirConfig

	mu     sync.RWMutex
	closed bool
	files  map[string]*dirFile   // alias (file name) → file
	ids    map[string][]*dirFile // versioned secret id → versions, highest first
	subs   storekit.Subscribers
}

type dirFile struct {
	alias   string
	id      string // secret id; alias itself when unversioned
	version int    // 0 when unversioned
	sum     [sha256.Size]byte
	entry   secrets.Entry
	err     error
}

// OpenDir opens the key directory dir. It fails when the directory cannot be read, holds more
// than MaxDirFiles files, or the configuration is invalid; files that do not decode fail only
// their own Entry. ctx is checked before the directory is read.
func OpenDir(ctx context.Context, dir string, cfg DirConfig) (*DirStore, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch cfg.Format {
	case "":
		cfg.Format = DirPlain
	case DirPlain, DirBase64, DirBase64URL, DirPEM:
	default:
		return nil, fmt.Errorf("filestore: key directory %s: format %q: want PLAIN, PEM, BASE64 or BASE64URL", dir, cfg.Format)
	}
	switch cfg.SecretKind {
	case secrets.KindUnknown:
		cfg.SecretKind = secrets.KindSecret
	case secrets.KindSecret, secrets.KindAES:
	default:
		return nil, fmt.Errorf("filestore: key directory %s: SecretKind %v: want secret or AES", dir, cfg.SecretKind)
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultDirMaxFileSize
	}
	if strings.ContainsAny(cfg.VersionSuffix, "/\x00") {
		return nil, fmt.Errorf("filestore: key directory %s: versionSuffix %q holds a path separator", dir, cfg.VersionSuffix)
	}
	s := &DirStore{dir: dir, name: cfg.Name, cfg: cfg}
	if s.name == "" {
		s.name = filepath.Base(dir)
	}
	files, ids, err := s.scan()
	if err != nil {
		return nil, err
	}
	s.files, s.ids = files, ids
	return s, nil
}

// Name returns the store's name.
func (s *DirStore) Name() string { return s.name }

// Dir returns the directory the store reads.
func (s *DirStore) Dir() string { return s.dir }

// scan reads the directory.
func (s *DirStore) scan() (map[string]*dirFile, map[string][]*dirFile, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: key directory: %w", err)
	}
	files := map[string]*dirFile{}
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(s.dir, name)
		info, err := os.Stat(path) // follows symbolic links
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if len(files) >= MaxDirFiles {
			return nil, nil, fmt.Errorf("filestore: key directory %s holds more than %d files", s.dir, MaxDirFiles)
		}
		f := &dirFile{alias: name, id: name}
		if id, v, ok := s.splitVersion(name); ok {
			f.id, f.version = id, v
		}
		data, err := readLimited(path, s.cfg.MaxFileSize)
		if err != nil {
			f.err = fmt.Errorf("filestore: key directory %s: file %s: %w", s.dir, name, err)
		} else {
			f.sum = sha256.Sum256(data)
			km, err := decodeDirFile(data, s.cfg)
			clear(data)
			if err == nil {
				f.entry, err = storekit.NewSoftwareEntry(name, km)
				clear(km.Secret)
			}
			if err != nil {
				f.err = fmt.Errorf("filestore: key directory %s: file %s (format %s): %w", s.dir, name, s.cfg.Format, err)
			}
		}
		files[name] = f
	}
	ids := map[string][]*dirFile{}
	if s.cfg.VersionSuffix != "" {
		for _, f := range files {
			if f.version > 0 {
				ids[f.id] = append(ids[f.id], f)
			}
		}
		for id, vs := range ids {
			if f := files[id]; f != nil { // an unversioned file beside versions is version 0
				ids[id] = append(vs, f)
			}
			slices.SortFunc(ids[id], func(a, b *dirFile) int { return b.version - a.version })
		}
	}
	return files, ids, nil
}

// splitVersion parses <id><suffix><N>.
func (s *DirStore) splitVersion(name string) (string, int, bool) {
	suf := s.cfg.VersionSuffix
	if suf == "" {
		return "", 0, false
	}
	i := strings.LastIndex(name, suf)
	if i <= 0 {
		return "", 0, false
	}
	num := name[i+len(suf):]
	if num == "" || num[0] == '0' || len(num) > 9 {
		return "", 0, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	v, _ := strconv.Atoi(num)
	return name[:i], v, true
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("larger than the limit of %d bytes", limit)
	}
	return data, nil
}

// decodeDirFile turns a file's content into key material under cfg.Format.
func decodeDirFile(data []byte, cfg DirConfig) (secrets.KeyMaterial, error) {
	var raw []byte
	switch cfg.Format {
	case DirPEM:
		return decodePEMFile(data)
	case DirPlain:
		raw = bytes.Clone(data)
	case DirBase64, DirBase64URL:
		enc := base64.StdEncoding
		if cfg.Format == DirBase64URL {
			enc = base64.URLEncoding
		}
		compact := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, data)
		defer clear(compact)
		if !bytes.HasSuffix(compact, []byte("=")) {
			enc = enc.WithPadding(base64.NoPadding)
		}
		raw = make([]byte, enc.DecodedLen(len(compact)))
		n, err := enc.Decode(raw, compact)
		if err != nil {
			clear(raw)
			return secrets.KeyMaterial{}, fmt.Errorf("not %s", cfg.Format) // the position would hint at the content
		}
		raw = raw[:n]
	}
	if len(raw) == 0 {
		return secrets.KeyMaterial{}, errors.New("empty secret")
	}
	km := secrets.KeyMaterial{Kind: cfg.SecretKind, Secret: raw, Extractable: true}
	if cfg.SecretKind == secrets.KindAES {
		km.Algorithm = "AES"
		if n := len(raw); n != 16 && n != 24 && n != 32 {
			clear(raw)
			return secrets.KeyMaterial{}, fmt.Errorf("AES key of %d bytes: want 16, 24 or 32", n)
		}
	}
	return km, nil
}

// decodePEMFile reads a private key with certificates, or certificates alone.
func decodePEMFile(data []byte) (secrets.KeyMaterial, error) {
	var key any
	var certs []*x509.Certificate
	rest := data
	blocks := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if _, enc := b.Headers["Proc-Type"]; enc || b.Type == "ENCRYPTED PRIVATE KEY" {
			return secrets.KeyMaterial{}, fmt.Errorf("encrypted PEM private keys: %w", errors.ErrUnsupported)
		}
		var err error
		switch b.Type {
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				certs = append(certs, c)
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return secrets.KeyMaterial{}, errors.New("more than one private key")
			}
			switch b.Type {
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			case "RSA PRIVATE KEY":
				key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			default:
				key, err = x509.ParseECPrivateKey(b.Bytes)
			}
			clear(b.Bytes)
		default:
			// Public keys, parameters, trailing blocks: not a secret this store serves.
			err = fmt.Errorf("PEM block %q: %w", b.Type, errors.ErrUnsupported)
		}
		if err != nil {
			return secrets.KeyMaterial{}, fmt.Errorf("PEM block %d (%s): %w", blocks, b.Type, err)
		}
	}
	if blocks == 0 {
		return secrets.KeyMaterial{}, errors.New("no PEM block")
	}
	if key == nil {
		return secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: certs}, nil
	}
	km := secrets.KeyMaterial{Private: key, Extractable: true}
	var pub interface{ Equal(crypto.PublicKey) bool }
	switch k := key.(type) {
	case *rsa.PrivateKey:
		km.Kind, pub = secrets.KindRSA, &k.PublicKey
	case *ecdsa.PrivateKey:
		km.Kind, pub = secrets.KindEC, &k.PublicKey
	default:
		return secrets.KeyMaterial{}, fmt.Errorf("private key of type %T: %w", key, errors.ErrUnsupported)
	}
	// The certificate holding the key's public key is the leaf; the others follow in file order.
	leaf := slices.IndexFunc(certs, func(c *x509.Certificate) bool { return pub.Equal(c.PublicKey) })
	if len(certs) > 0 && leaf < 0 {
		return secrets.KeyMaterial{}, errors.New("no certificate in the file holds the private key's public key")
	}
	if leaf > 0 {
		certs = append(append([]*x509.Certificate{certs[leaf]}, certs[:leaf]...), certs[leaf+1:]...)
	}
	km.Chain = certs
	return km, nil
}

// Aliases returns the file names the store serves, sorted. Version-relative aliases (see
// DirStore) are not listed. It fails with ErrClosed after Close.
func (s *DirStore) Aliases(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.keyErr("", secrets.ErrClosed)
	}
	out := make([]string, 0, len(s.files))
	for a := range s.files {
		out = append(out, a)
	}
	slices.Sort(out)
	return out, nil
}

// Entry returns the entry for alias: a versioned secret id (the active version, before a file
// of the same name), a file name, or a version-relative alias such as "jwt.v-1" (see
// DirStore). It wraps secrets.ErrNotFound
// when there is no such file or version, secrets.ErrClosed after Close, and the file's
// decoding error when the file does not hold a usable secret.
func (s *DirStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.keyErr(alias, secrets.ErrClosed)
	}
	// A secret id with versions names its active version, even where a file of that name
	// exists: that file is version 0, an older one (IDM: the highest version is active).
	var f *dirFile
	if vs := s.ids[alias]; len(vs) > 0 {
		f = vs[0]
	} else if f = s.files[alias]; f == nil {
		f = s.relative(alias)
	}
	if f == nil {
		return nil, s.keyErr(alias, fmt.Errorf("%w: no file %s in %s", secrets.ErrNotFound, alias, s.dir))
	}
	if f.err != nil {
		return nil, s.keyErr(alias, f.err)
	}
	return f.entry, nil
}

// relative resolves "<id>" (the active version) and "<id><suffix>-K" (K below the active one).
func (s *DirStore) relative(alias string) *dirFile {
	if vs := s.ids[alias]; len(vs) > 0 {
		return vs[0]
	}
	suf := s.cfg.VersionSuffix
	if suf == "" {
		return nil
	}
	i := strings.LastIndex(alias, suf+"-")
	if i <= 0 {
		return nil
	}
	num := alias[i+len(suf)+1:]
	if num == "" || num[0] == '0' || len(num) > 9 || strings.Trim(num, "0123456789") != "" {
		return nil
	}
	k, _ := strconv.Atoi(num)
	if vs := s.ids[alias[:i]]; k < len(vs) {
		return vs[k]
	}
	return nil
}

// Versions returns the aliases of secret id's versions, active (highest) first, or nil when
// the id has no versioned files.
func (s *DirStore) Versions(id string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, f := range s.ids[id] {
		out = append(out, f.alias)
	}
	return out
}

// RotationAliases returns the aliases of a mapping that serves secret id with rotation: the
// active version and the keep versions below it ("jwt", "jwt.v-1", ..., "jwt.v-<keep>"). The
// mapping stays right as versions are added. Without a VersionSuffix it returns [id].
func (s *DirStore) RotationAliases(id string, keep int) []string {
	out := []string{id}
	if s.cfg.VersionSuffix == "" {
		return out
	}
	for k := 1; k <= keep; k++ {
		out = append(out, id+s.cfg.VersionSuffix+"-"+strconv.Itoa(k))
	}
	return out
}

// Reload re-reads the directory. When any file was added, removed or changed it notifies the
// subscribers (a Change naming the changed aliases, or nil aliases when a versioned secret
// changed, since its relative aliases moved) and reports true. On error the store keeps
// serving what it had. It fails with ErrClosed after Close.
func (s *DirStore) Reload(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return false, s.keyErr("", secrets.ErrClosed)
	}
	files, ids, err := s.scan()
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, s.keyErr("", secrets.ErrClosed)
	}
	var changed []string
	all := false
	note := func(f *dirFile) {
		changed = append(changed, f.alias)
		if f.version > 0 || len(ids[f.id]) > 0 || len(s.ids[f.id]) > 0 {
			all = true
		}
	}
	for a, f := range files {
		if old := s.files[a]; old == nil || old.sum != f.sum || (old.err == nil) != (f.err == nil) {
			note(f)
		}
	}
	for a, old := range s.files {
		if files[a] == nil {
			note(old)
		}
	}
	if len(changed) == 0 {
		s.mu.Unlock()
		return false, nil
	}
	s.files, s.ids = files, ids
	s.mu.Unlock()
	ch := secrets.Change{Store: s.name}
	if !all {
		slices.Sort(changed)
		ch.Aliases = changed
	}
	s.subs.Notify(ch)
	return true, nil
}

// Subscribe registers f to be called after a Reload that found changes (secrets.Notifier).
// f runs on the goroutine that called Reload and must not block.
func (s *DirStore) Subscribe(f func(secrets.Change)) (unsubscribe func()) {
	return s.subs.Subscribe(f)
}

// Close releases the store; later calls fail with ErrClosed. It is idempotent.
func (s *DirStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.files, s.ids = nil, nil
	s.subs.Clear()
	return nil
}

func (s *DirStore) keyErr(alias string, err error) error {
	return &secrets.KeyError{Store: s.name, Alias: alias, Err: err}
}

// DirOpener is the secrets.Opener of IDM's FileSystemStore class (secrets.ClassFileSystem).
// Settings: "directory" (required; relative to StoreConfig.Dir), "format" (PLAIN, PEM, BASE64,
// BASE64URL; default PLAIN) and "versionSuffix". The JWE "encryptionKey" setting is refused:
// IDM's documentation does not confirm the layout of encrypted files, and guessing would serve
// wrong keys silently. opts supplies the settings secrets.json lacks
// (SecretKind, MaxFileSize); its Name, Format and VersionSuffix are ignored.
func DirOpener(opts DirConfig) secrets.Opener {
	return func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		cfg := opts
		cfg.Name = sc.Name
		for k, v := range sc.Settings {
			switch k {
			case "directory", "format", "versionSuffix":
				if _, ok := v.(string); !ok {
					return nil, fmt.Errorf("filestore: store %s: setting %q must be a string", sc.Name, k)
				}
			case "encryptionKey":
				return nil, fmt.Errorf("filestore: store %s: FileSystemStore's encryptionKey (JWE-encrypted secret files) %w: the file layout is not confirmed by IDM's documentation; decrypt the files when deploying them", sc.Name, errors.ErrUnsupported)
			}
		}
		dir, _ := sc.String("directory")
		if dir == "" {
			return nil, fmt.Errorf("filestore: store %s: FileSystemStore needs a \"directory\" setting", sc.Name)
		}
		if !filepath.IsAbs(dir) && sc.Dir != "" {
			dir = filepath.Join(sc.Dir, dir)
		}
		format, _ := sc.String("format")
		cfg.Format = DirFormat(strings.ToUpper(format))
		cfg.VersionSuffix, _ = sc.String("versionSuffix")
		return OpenDir(ctx, dir, cfg)
	}
}

var (
	_ secrets.Store    = (*DirStore)(nil)
	_ secrets.Notifier = (*DirStore)(nil)
)
