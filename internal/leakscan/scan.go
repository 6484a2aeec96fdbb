package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultMinSecrets is the fewest secrets a client's secret files may
// hold. One ChatGPT sign-in alone handles five or six (code, verifier,
// ID, access and refresh token, device auth id); each client's suite
// signs in many times (30 to 50 secrets measured).
const DefaultMinSecrets = 10

const (
	// pieceLen is the length of the pieces of a secret looked for.
	pieceLen = 24
	// minSecretLen is the shortest secret accepted: anything shorter
	// would be found everywhere (the issuer's ledger skips such values).
	minSecretLen = 16
	// handedFile holds the secrets a client's tests typed in.
	handedFile = "handed.secrets"
	// ledgerExt ends the issuers' ledgers.
	ledgerExt = ".ledger"
)

// Options is what to scan.
type Options struct {
	// Dir holds a folder per client.
	Dir string
	// Clients must each have a folder with output and secrets.
	Clients []string
	// MinSecrets is the fewest distinct secrets each client's secret
	// files must hold.
	MinSecrets int
}

// Report is what a scan looked at and found.
type Report struct {
	// Files and Bytes are the output scanned.
	Files int
	Bytes int64
	// Secrets is how many distinct secrets were looked for.
	Secrets int
	// Leaks are the secrets found, one per file and secret.
	Leaks []Leak
}

// Leak is one secret found in one file. It never holds the secret.
type Leak struct {
	// File is the output file, relative to Options.Dir.
	File string
	// Offset is where in File the first piece found starts.
	Offset int
	// Whole says the whole secret is in File, not only a piece of it.
	Whole bool
	// Kind, Masked, Length and Source describe the secret: its kind
	// ("refresh_token", ...), its first 4 characters and "***", its
	// length, and the secret file and line it was read from.
	Kind   string
	Masked string
	Length int
	Source string
}

func (l Leak) String() string {
	what := fmt.Sprintf("a %d-character piece of", pieceLen)
	if l.Whole {
		what = "the whole of"
	}
	article := "a"
	if strings.ContainsAny(l.Kind[:1], "aeiou") {
		article = "an"
	}
	return fmt.Sprintf("%s (byte %d) holds %s %s %s (%s, %d characters, from %s)",
		l.File, l.Offset, what, article, l.Kind, l.Masked, l.Length, l.Source)
}

// secret is one secret looked for.
type secret struct {
	value  string
	kind   string
	source string // file:line, relative to Options.Dir
}

// isSecretFile reports whether name is a secret file, not output.
func isSecretFile(name string) bool {
	return name == handedFile || strings.HasSuffix(name, ledgerExt)
}

// Scan reads every client's secret files, then looks for every secret in
// every client's other files. An error means the run cannot prove
// anything (a folder missing, no output, too few secrets, a bad secret
// file); leaks are in the Report.
func Scan(o Options) (Report, error) {
	var rep Report
	if len(o.Clients) == 0 {
		return rep, errors.New("no client named")
	}
	var secrets []secret
	seen := map[string]bool{}
	var outputs []string // relative to o.Dir
	for _, c := range o.Clients {
		if c == "" || c != filepath.Base(c) || c == "." || c == ".." {
			return rep, fmt.Errorf("client %q is not a folder name", c)
		}
		dir := filepath.Join(o.Dir, c)
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return rep, fmt.Errorf("%s: no folder for client %s (did its suite run with CODEX_AUTH_SCAN_DIR=%s?)", dir, c, o.Dir)
		}
		own := map[string]bool{}
		var out []string
		nonEmpty := 0
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(o.Dir, path)
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s is not a regular file", rel)
			}
			if !isSecretFile(d.Name()) {
				out = append(out, rel)
				if info, err := d.Info(); err == nil && info.Size() > 0 {
					nonEmpty++
				}
				return nil
			}
			found, err := readSecrets(o.Dir, rel)
			if err != nil {
				return err
			}
			for _, s := range found {
				own[s.value] = true
				if !seen[s.value] {
					seen[s.value] = true
					secrets = append(secrets, s)
				}
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		if nonEmpty == 0 {
			return rep, fmt.Errorf("%s: no output to scan (%d empty files): the suite saved no log", dir, len(out))
		}
		if len(own) < o.MinSecrets {
			return rep, fmt.Errorf("%s: its ledgers and %s hold %d secrets, fewer than %d: the issuers recorded nothing (--ledger not passed?) or the suite did not sign in",
				dir, handedFile, len(own), o.MinSecrets)
		}
		outputs = append(outputs, out...)
	}
	rep.Secrets = len(secrets)
	ix := newIndex(secrets)
	for _, rel := range outputs {
		b, err := os.ReadFile(filepath.Join(o.Dir, rel))
		if err != nil {
			return rep, err
		}
		rep.Files++
		rep.Bytes += int64(len(b))
		rep.Leaks = append(rep.Leaks, ix.find(rel, b)...)
	}
	return rep, nil
}

// readSecrets reads a secret file: "KIND<TAB>SECRET" lines, or bare
// secrets; blank lines are skipped.
func readSecrets(dir, rel string) ([]secret, error) {
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kind := "secret"
	if filepath.Base(rel) == handedFile {
		kind = "handed secret"
	}
	var out []secret
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		s := secret{value: line, kind: kind, source: fmt.Sprintf("%s:%d", rel, n)}
		if k, v, ok := strings.Cut(line, "\t"); ok {
			s.kind, s.value = k, v
		}
		if len(s.value) < minSecretLen {
			return nil, fmt.Errorf("%s: a %s of %d characters, too short to look for (%d at least)", s.source, s.kind, len(s.value), minSecretLen)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return out, nil
}

// shared marks a piece two different secrets hold.
const shared = -1

// index finds secrets in output.
type index struct {
	secrets []secret
	// pieces maps each pieceLen piece to the one secret holding it, or
	// shared.
	pieces map[string]int
	// wholes are the secrets looked for whole: shorter than pieceLen, or
	// with every piece shared.
	wholes []int
}

func newIndex(secrets []secret) *index {
	ix := &index{secrets: secrets, pieces: map[string]int{}}
	for i, s := range secrets {
		for j := 0; j+pieceLen <= len(s.value); j++ {
			p := s.value[j : j+pieceLen]
			if k, ok := ix.pieces[p]; ok && k != i {
				ix.pieces[p] = shared
			} else if !ok {
				ix.pieces[p] = i
			}
		}
	}
	own := make([]bool, len(secrets))
	for _, k := range ix.pieces {
		if k != shared {
			own[k] = true
		}
	}
	for i := range secrets {
		if !own[i] {
			ix.wholes = append(ix.wholes, i)
		}
	}
	return ix
}

// find returns a Leak for every secret in b (the content of file).
func (ix *index) find(file string, b []byte) []Leak {
	at := map[int]int{} // secret -> first offset
	for j := 0; j+pieceLen <= len(b); j++ {
		if k, ok := ix.pieces[string(b[j:j+pieceLen])]; ok && k != shared {
			if _, dup := at[k]; !dup {
				at[k] = j
			}
		}
	}
	for _, k := range ix.wholes {
		if j := bytes.Index(b, []byte(ix.secrets[k].value)); j >= 0 {
			if _, dup := at[k]; !dup {
				at[k] = j
			}
		}
	}
	var leaks []Leak
	for k, j := range at {
		s := ix.secrets[k]
		leaks = append(leaks, Leak{
			File: file, Offset: j, Whole: bytes.Contains(b, []byte(s.value)),
			Kind: s.kind, Masked: mask(s.value), Length: len(s.value), Source: s.source,
		})
	}
	slices.SortFunc(leaks, func(a, b Leak) int { return a.Offset - b.Offset })
	return leaks
}

// mask is a secret's first 4 characters and "***".
func mask(s string) string {
	return s[:4] + "***"
}
