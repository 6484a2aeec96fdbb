package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
)

// The names Codex 0.171 uses (measured).
const (
	// SecretsKeyringService is the keyring service of the passphrase.
	SecretsKeyringService = "codex"
	secretsDirName        = "secrets"
	secretsFileName       = "codex_auth.age"
	// secretsAuthKey is the record's key inside the file's secrets map.
	secretsAuthKey = "global/CODEX_AUTH"
	// secretsVersion is the plaintext's version.
	secretsVersion = 1
	// SecretsWorkFactor is the scrypt work factor (log2 N) codex-auth
	// writes with. Codex writes 20 (about 3 s and 1 GiB to decrypt here);
	// its passphrase is 256 random bits, which no work factor
	// strengthens, and Codex 0.171 reads files written with 1 or 10
	// (measured), so 10: about a millisecond.
	SecretsWorkFactor = 10
	// secretsMaxWorkFactor bounds what is decrypted (Codex writes 20).
	secretsMaxWorkFactor = 22
	// maxSecretsFile bounds the encrypted file read.
	maxSecretsFile = 4 << 20
)

// secretsBackend keeps the record in the encrypted secrets file. It
// implements recordBackend. The decrypted file is kept in memory with the
// SHA-256 of the ciphertext it came from: a load decrypts again only when
// the file's bytes changed (Codex's work factor makes one decryption cost
// seconds), so a poll is a read and a hash.
type secretsBackend struct {
	home   Home
	kr     *keyringBackend // the keyring, bounded by its timeout
	logger *slog.Logger

	mu    sync.Mutex // guards cache; held across a decryption
	cache *secretsPlain
	// decryptions counts age decryptions (tests, benchmarks).
	decryptions atomic.Int64
}

// secretsPlain is one decrypted file: its ciphertext's hash, its other
// top-level keys, its secrets in order, and the record parsed from it.
type secretsPlain struct {
	sum     [sha256.Size]byte
	top     []RawField // keys other than version and secrets
	secrets []RawField
	rec     *Record
	recErr  error
}

func newSecretsBackend(home Home, kr *keyringBackend, logger *slog.Logger) *secretsBackend {
	return &secretsBackend{home: home, kr: kr, logger: logger}
}

func (b *secretsBackend) path() string {
	return filepath.Join(b.home.Dir, secretsDirName, secretsFileName)
}

// account is the passphrase's keyring account: "secrets|" and the same
// hash of CODEX_HOME as the record's "cli|" account.
func (b *secretsBackend) account() string {
	return "secrets|" + strings.TrimPrefix(b.home.KeyringAccount(), "cli|")
}

func (b *secretsBackend) where() string {
	return b.path() + " (key in the keyring: " + SecretsKeyringService + "/" + b.account() + ")"
}

// passphrase reads the key from the keyring; "" with no error when there
// is none.
func (b *secretsBackend) passphrase(ctx context.Context) (string, error) {
	var pw string
	err := b.kr.call(ctx, "read", func() error {
		v, err := b.kr.kr.Get(SecretsKeyringService, b.account())
		pw = v
		return err
	})
	if errors.Is(err, ErrKeyringNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("encrypted auth storage: failed to load secrets key from keyring for %s: %w", b.account(), err)
	}
	return pw, nil
}

// read returns the decrypted file (nil when there is none), decrypting
// only when its bytes changed since the last time. The caller holds mu.
func (b *secretsBackend) read(ctx context.Context) (*secretsPlain, error) {
	data, err := readLimited(b.path(), maxSecretsFile)
	if errors.Is(err, fs.ErrNotExist) {
		b.cache = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", b.path(), ErrUnavailable, err)
	}
	sum := sha256.Sum256(data)
	if b.cache != nil && b.cache.sum == sum {
		return b.cache, nil
	}
	pw, err := b.passphrase(ctx)
	if err != nil {
		return nil, err
	}
	if pw == "" {
		return nil, fmt.Errorf("encrypted auth storage: missing keyring passphrase for the existing encrypted secrets file %s: %w", b.path(), ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	plain, err := b.decrypt(data, pw)
	if err != nil {
		return nil, err
	}
	p, err := parseSecrets(plain, b.path())
	if err != nil {
		return nil, err
	}
	p.sum = sum
	b.cache = p
	return p, nil
}

// decrypt opens an age file with the passphrase (scrypt identity). The
// errors never hold plaintext or the passphrase.
func (b *secretsBackend) decrypt(data []byte, pw string) ([]byte, error) {
	id, err := age.NewScryptIdentity(pw)
	if err != nil {
		return nil, fmt.Errorf("encrypted auth storage: %w: %w", ErrUnavailable, err)
	}
	id.SetMaxWorkFactor(secretsMaxWorkFactor)
	b.decryptions.Add(1)
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("encrypted auth storage: the keyring passphrase does not open %s: %w", b.path(), ErrUnavailable)
		}
		return nil, &CorruptError{Path: b.path(), Reason: "not an age file this passphrase opens"}
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxSecretsFile+1))
	if err != nil || len(plain) > maxSecretsFile {
		return nil, &CorruptError{Path: b.path(), Reason: "the encrypted payload is damaged or too large"}
	}
	return plain, nil
}

// parseSecrets reads {"version": 1, "secrets": {...}} and the record in
// secrets["global/CODEX_AUTH"] (a string holding compact JSON). Other
// keys are kept as they are.
func parseSecrets(plain []byte, path string) (*secretsPlain, error) {
	corrupt := func(reason string) error { return &CorruptError{Path: path, Reason: reason} }
	fields, err := decodeObject(plain)
	if err != nil {
		return nil, corrupt("the decrypted file: " + err.Error())
	}
	p := &secretsPlain{}
	sawVersion := false
	for _, f := range fields {
		switch f.Key {
		case "version":
			var v int
			if json.Unmarshal(f.Value, &v) != nil || v != secretsVersion {
				return nil, corrupt("unsupported secrets file version")
			}
			sawVersion = true
		case "secrets":
			s, err := decodeObject(f.Value)
			if err != nil {
				return nil, corrupt("secrets: " + err.Error())
			}
			p.secrets = s
		default:
			p.top = append(p.top, f)
		}
	}
	if !sawVersion {
		return nil, corrupt("no version")
	}
	for _, f := range p.secrets {
		if f.Key != secretsAuthKey {
			continue
		}
		var s string
		if json.Unmarshal(f.Value, &s) != nil {
			p.recErr = &CorruptError{Path: path + " (" + secretsAuthKey + ")", Reason: "not a string"}
			break
		}
		rec, err := ParseRecord([]byte(s))
		if err != nil {
			p.recErr = &CorruptError{Path: path + " (" + secretsAuthKey + ")", Reason: err.Error()}
			break
		}
		p.rec = rec
	}
	return p, nil
}

// marshal is the plaintext Codex writes: version, then secrets with keys
// sorted (Codex's map is ordered), then any other key it had.
func (p *secretsPlain) marshal() ([]byte, error) {
	secrets := slices.Clone(p.secrets)
	slices.SortStableFunc(secrets, func(a, b RawField) int { return strings.Compare(a.Key, b.Key) })
	var sb bytes.Buffer
	sw := objWriter{buf: &sb}
	sb.WriteByte('{')
	for _, f := range secrets {
		sw.raw(f.Key, f.Value)
	}
	sb.WriteByte('}')
	var buf bytes.Buffer
	w := objWriter{buf: &buf}
	buf.WriteByte('{')
	w.field("version", secretsVersion)
	w.raw("secrets", sb.Bytes())
	for _, f := range p.top {
		w.raw(f.Key, f.Value)
	}
	buf.WriteByte('}')
	if err := errors.Join(sw.err, w.err); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// load reads the record; (nil, nil) when the file or its record is absent.
func (b *secretsBackend) load(ctx context.Context) (*Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.read(ctx)
	if err != nil || p == nil {
		return nil, err
	}
	return p.rec.Clone(), p.recErr
}

// save puts the record into the file, keeping every other secret; the
// passphrase is created (256 random bits, as Codex) when there is neither
// a file nor a passphrase.
func (b *secretsBackend) save(ctx context.Context, r *Record) error {
	compact, err := r.MarshalCompact()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.read(ctx)
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		// A new login must not be blocked by a damaged file: like a
		// corrupt auth.json, it is moved aside.
		if merr := b.moveAside(); merr != nil {
			return merr
		}
		b.logger.Warn("moved a damaged encrypted secrets file aside", "path", b.path(), "reason", ce.Reason)
		p = nil
	case err != nil:
		return err
	}
	next := &secretsPlain{}
	if p != nil {
		next.top, next.secrets = p.top, slices.Clone(p.secrets)
	}
	val := appendJSONString(nil, string(compact))
	replaced := false
	for i, f := range next.secrets {
		if f.Key == secretsAuthKey {
			next.secrets[i] = RawField{Key: secretsAuthKey, Value: val}
			replaced = true
		}
	}
	if !replaced {
		next.secrets = append(next.secrets, RawField{Key: secretsAuthKey, Value: val})
	}
	return b.write(ctx, next)
}

// remove deletes the record from the file, keeping the file, its other
// secrets and the passphrase, as `codex logout` does.
func (b *secretsBackend) remove(ctx context.Context) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.read(ctx)
	if err != nil || p == nil {
		return false, err
	}
	i := slices.IndexFunc(p.secrets, func(f RawField) bool { return f.Key == secretsAuthKey })
	if i < 0 {
		return false, nil
	}
	next := &secretsPlain{top: p.top, secrets: slices.Delete(slices.Clone(p.secrets), i, i+1)}
	if err := b.write(ctx, next); err != nil {
		return false, err
	}
	return true, nil
}

// write encrypts p and replaces the file as Codex does (a temp file
// .codex_auth.age.tmp-<pid>-<nanos> in secrets/, then rename) under
// auth.json.lock, but 0600 in a 0700 folder (Codex writes 0644 in 0755;
// it reads ours). The caller holds mu; the cache becomes p.
func (b *secretsBackend) write(ctx context.Context, p *secretsPlain) error {
	plain, err := p.marshal()
	if err != nil {
		return err
	}
	pw, err := b.passphrase(ctx)
	if err != nil {
		return fmt.Errorf("failed to write OAuth tokens to %w", err)
	}
	if pw == "" {
		if _, serr := os.Stat(b.path()); serr == nil {
			return fmt.Errorf("encrypted auth storage: missing keyring passphrase for the existing encrypted secrets file %s: %w", b.path(), ErrUnavailable)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		pw = base64.StdEncoding.EncodeToString(key)
		if err := b.kr.call(ctx, "write", func() error { return b.kr.kr.Set(SecretsKeyringService, b.account(), pw) }); err != nil {
			return fmt.Errorf("failed to write OAuth tokens to encrypted auth storage: storing the secrets key in the keyring for %s: %w", b.account(), err)
		}
	}
	rcp, err := age.NewScryptRecipient(pw)
	if err != nil {
		return err
	}
	rcp.SetWorkFactor(SecretsWorkFactor)
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, rcp)
	if err != nil {
		return err
	}
	if _, err := w.Write(plain); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := b.home.ensure(); err != nil {
		return err
	}
	dir := filepath.Dir(b.path())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w: %w", dir, ErrUnavailable, err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		b.logger.Warn("the secrets folder was open to others; narrowing it to 0700", "path", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w: %w", dir, ErrUnavailable, err)
		}
	}
	release, err := acquire(ctx, b.home.Dir, writeLockName, writeLockTimeout)
	if err != nil {
		return err
	}
	defer release()
	if err := writeSecretsFile(b.path(), ct.Bytes()); err != nil {
		return err
	}
	p.sum = sha256.Sum256(ct.Bytes())
	p.rec, p.recErr = nil, nil
	for _, f := range p.secrets {
		if f.Key == secretsAuthKey {
			var s string
			if json.Unmarshal(f.Value, &s) == nil {
				p.rec, p.recErr = ParseRecord([]byte(s))
			}
		}
	}
	b.cache = p
	return nil
}

// writeSecretsFile is Codex's temp-file-and-rename, 0600.
func writeSecretsFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmpName := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 10))
	tmp, err := os.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w: %w", path, ErrUnavailable, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
			err = fmt.Errorf("write %s: %w: %w", path, ErrUnavailable, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// moveAside renames a damaged secrets file so a new login can proceed.
func (b *secretsBackend) moveAside() error {
	name := b.path() + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(b.path(), name); err != nil {
		return fmt.Errorf("move damaged %s aside: %w: %w", b.path(), ErrUnavailable, err)
	}
	b.cache = nil
	return nil
}

// readLimited reads at most limit bytes of a file (an error beyond).
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
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// SecretsFile is the encrypted secrets file when the store keeps the
// record there (feature secret_auth_storage in keyring or auto mode), else
// "". Watching it tells a change made by Codex (polling Load also does,
// at the cost of a read and a hash while the file is unchanged).
func (s *Store) SecretsFile() string {
	if b, ok := s.kr.(*secretsBackend); ok {
		return b.path()
	}
	return ""
}
