package crypto

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestKeyFileSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k := rfc8032Identity(t)
	if err := SaveKeyFile(path, k, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("saved key file mode = %04o, want 0600", perm)
	}
	got, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != k.ID() || !bytes.Equal(got.Seed(), k.Seed()) {
		t.Errorf("loaded ID %v, want %v", got.ID(), k.ID())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, MarshalKeyFile(k)) {
		t.Errorf("file content = %q, want MarshalKeyFile output", data)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN "+KeyFilePEMType+"-----\n")) {
		t.Errorf("file does not start with the PEM header: %q", data)
	}
	assertNoTempFiles(t, dir)
}

// assertNoTempFiles checks that SaveKeyFile cleaned up its temporary file.
func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, ".key-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestLoadKeyFileRefusesUnsafePermissions(t *testing.T) {
	dir := t.TempDir()
	data := MarshalKeyFile(rfc8032Identity(t))
	for _, tt := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o660, false},
		{0o602, false},
		{0o610, false},
	} {
		path := filepath.Join(dir, "key-"+tt.mode.String())
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(path)
		if tt.ok {
			if err != nil {
				t.Errorf("mode %04o: %v", tt.mode, err)
			}
			continue
		}
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || !strings.Contains(err.Error(), "unsafe permissions") {
			t.Errorf("mode %04o: error = %v, want a *KeyFileError about unsafe permissions", tt.mode, err)
		} else if kfe.Path != path {
			t.Errorf("mode %04o: KeyFileError.Path = %q, want %q", tt.mode, kfe.Path, path)
		}
	}
}

func TestLoadKeyFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadKeyFile(dir)
	var kfe *KeyFileError
	if !errors.As(err, &kfe) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadKeyFile(directory) error = %v, want a *KeyFileError saying not a regular file", err)
	}
}

func TestLoadKeyFileMissing(t *testing.T) {
	_, err := LoadKeyFile(filepath.Join(t.TempDir(), "absent.key"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKeyFile(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadKeyFileOversized(t *testing.T) {
	// The size check happens before the read, from the file's length.
	path := filepath.Join(t.TempDir(), "big.key")
	data := append(MarshalKeyFile(rfc8032Identity(t)), bytes.Repeat([]byte{'\n'}, MaxKeyFileSize)...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKeyFile(path)
	var kfe *KeyFileError
	if !errors.As(err, &kfe) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("LoadKeyFile(oversized) error = %v, want a *KeyFileError saying too large", err)
	}
}

// validKeyFile is MarshalKeyFile(rfc8032Identity).
func validKeyFile(t testing.TB) string { return string(MarshalKeyFile(rfc8032Identity(t))) }

func TestParseKeyFile(t *testing.T) {
	valid := validKeyFile(t)
	body := strings.TrimSuffix(strings.TrimPrefix(valid, "-----BEGIN "+KeyFilePEMType+"-----\n"), "-----END "+KeyFilePEMType+"-----\n")
	block := func(typ, headers, b64 string) string {
		return "-----BEGIN " + typ + "-----\n" + headers + b64 + "-----END " + typ + "-----\n"
	}
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
	}{
		{"valid", valid, ""},
		{"CRLF line ends", strings.ReplaceAll(valid, "\n", "\r\n"), ""},
		{"trailing whitespace", valid + "\n\n  \t\n", ""},
		// RFC 7468 §5.2: text before the block is permitted and ignored.
		{"explanatory text before", "my node key\n" + valid, ""},
		{"empty", "", "not a PEM file"},
		{"not PEM", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n", "not a PEM file"},
		{"truncated", valid[:len(valid)-10], "not a PEM file"},
		{"wrong type", block("PRIVATE KEY", "", body), `PEM block is "PRIVATE KEY"`},
		{"wrong type OpenSSH", block("OPENSSH PRIVATE KEY", "", body), "want \"" + KeyFilePEMType + "\""},
		{"headers", block(KeyFilePEMType, "Proc-Type: 4,ENCRYPTED\n\n", body), "headers"},
		{"short key", block(KeyFilePEMType, "", "AAAA\n"), "key is 3 bytes, want 32"},
		{"empty key", block(KeyFilePEMType, "", ""), "key is 0 bytes, want 32"},
		{"64-byte key", block(KeyFilePEMType, "", strings.Repeat("A", 86)+"==\n"), "key is 64 bytes, want 32"},
		{"trailing data", valid + "garbage\n", "trailing data"},
		{"second block", valid + valid, "trailing data"},
		{"oversized", valid + strings.Repeat(" ", MaxKeyFileSize), "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyFile("test.key", []byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if k.ID().String() != rfc8032ID {
					t.Errorf("ID = %v, want %s", k.ID(), rfc8032ID)
				}
				return
			}
			var kfe *KeyFileError
			if !errors.As(err, &kfe) {
				t.Fatalf("error = %v (%T), want a *KeyFileError", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if kfe.Path != "test.key" || !strings.Contains(err.Error(), "test.key") {
				t.Errorf("error %q does not name the file", err)
			}
			if k != nil {
				t.Error("returned an identity along with an error")
			}
		})
		// LoadKeyFile reports the same problem, naming the file.
		t.Run(tt.name+"/LoadKeyFile", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.key")
			if err := os.WriteFile(path, []byte(tt.in), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKeyFile(path)
			if tt.wantErr == "" {
				if err != nil || k.ID().String() != rfc8032ID {
					t.Fatalf("LoadKeyFile = %v, %v", k, err)
				}
				return
			}
			var kfe *KeyFileError
			if !errors.As(err, &kfe) || kfe.Path != path || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadKeyFile error = %v, want a *KeyFileError for %s containing %q", err, path, tt.wantErr)
			}
		})
	}
}

func TestSaveKeyFileExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	old := rfc8032Identity(t)
	if err := SaveKeyFile(path, old, false); err != nil {
		t.Fatal(err)
	}
	k, err := GenerateIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = SaveKeyFile(path, k, false)
	if !errors.Is(err, ErrKeyFileExists) {
		t.Fatalf("SaveKeyFile over an existing file error = %v, want ErrKeyFileExists", err)
	}
	if got, err := LoadKeyFile(path); err != nil || got.ID() != old.ID() {
		t.Errorf("after a refused save: loaded %v, %v; want the old key %v", got.ID(), err, old.ID())
	}
	assertNoTempFiles(t, dir)

	// A dangling symlink counts as existing too: it is not followed.
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	if err := SaveKeyFile(link, k, false); !errors.Is(err, ErrKeyFileExists) {
		t.Errorf("SaveKeyFile over a dangling symlink error = %v, want ErrKeyFileExists", err)
	}

	if err := SaveKeyFile(path, k, true); err != nil {
		t.Fatalf("SaveKeyFile with overwrite: %v", err)
	}
	got, err := LoadKeyFile(path)
	if err != nil || got.ID() != k.ID() {
		t.Errorf("after overwrite: loaded %v, %v; want the new key %v", got.ID(), err, k.ID())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("after overwrite: mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	assertNoTempFiles(t, dir)

	// Overwriting a 0644 file leaves a 0600 one (a new inode, not a chmod).
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SaveKeyFile(path, old, true); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadKeyFile(path); err != nil || got.ID() != old.ID() {
		t.Errorf("after overwriting a 0644 file: %v, %v", got.ID(), err)
	}
}

func TestSaveKeyFileBadDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "node.key")
	if err := SaveKeyFile(path, rfc8032Identity(t), false); err == nil || errors.Is(err, ErrKeyFileExists) {
		t.Errorf("SaveKeyFile into a missing directory error = %v", err)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKeyFile = created %v, %v; want created", created, err)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateKeyFile = created %v, %v; want loaded", created, err)
	}
	if k1.ID() != k2.ID() {
		t.Errorf("second call loaded %v, want %v", k2.ID(), k1.ID())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("created file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}

	// It does not replace a file it cannot use.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "unsafe permissions") {
		t.Errorf("LoadOrCreateKeyFile on a 0644 file error = %v, want unsafe permissions", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(bad); err == nil {
		t.Error("LoadOrCreateKeyFile replaced or accepted a corrupt file")
	}
	if data, _ := os.ReadFile(bad); string(data) != "junk" {
		t.Errorf("corrupt file was modified: %q", data)
	}
}

// TestLoadOrCreateKeyFileConcurrent starts several creators at once: exactly
// one creates the key and all of them end up with it.
func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	const n = 8
	var (
		wg      sync.WaitGroup
		ids     [n]ID
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k *Identity
			k, created[i], errs[i] = LoadOrCreateKeyFile(path)
			if k != nil {
				ids[i] = k.ID()
			}
		}()
	}
	wg.Wait()
	ncreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
			continue
		}
		if created[i] {
			ncreated++
		}
		if ids[i] != ids[0] {
			t.Errorf("caller %d has ID %v, caller 0 has %v", i, ids[i], ids[0])
		}
	}
	if ncreated != 1 {
		t.Errorf("%d callers created the key, want exactly 1", ncreated)
	}
}

// TestLoadKeyFileRefusesFIFO: a named pipe is refused at once as not a
// regular file; opening it must not wait for a writer. The bound only
// detects a hang.
func TestLoadKeyFileRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadKeyFile(path)
		done <- err
	}()
	select {
	case err := <-done:
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
			t.Fatalf("LoadKeyFile(FIFO) error = %v", err)
		}
	case <-time.After(20 * time.Second):
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close() // let the blocked open return, so the goroutine ends
		}
		<-done
		t.Fatal("LoadKeyFile blocked on a named pipe")
	}
}
