package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// KeyFilePEMType is the PEM block type of a peerwire key file. The block's
// body is the 32-byte Ed25519 seed.
const KeyFilePEMType = "PEERWIRE ED25519 PRIVATE KEY"

// MaxKeyFileSize bounds how much of a key file is read; a real one is ~130 bytes.
const MaxKeyFileSize = 4096

// ErrKeyFileExists is returned by SaveKeyFile when the file exists and
// overwrite was not requested.
var ErrKeyFileExists = errors.New("crypto: key file already exists")

// KeyFileError describes what is wrong with a key file.
type KeyFileError struct {
	Path   string
	Reason string
}

func (e *KeyFileError) Error() string { return "crypto: key file " + e.Path + ": " + e.Reason }

// MarshalKeyFile encodes k as a PEM key file.
func MarshalKeyFile(k *Identity) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: KeyFilePEMType, Bytes: k.priv.Seed()})
}

// ParseKeyFile decodes a PEM key file. path only labels errors.
func ParseKeyFile(path string, data []byte) (*Identity, error) {
	if len(data) > MaxKeyFileSize {
		return nil, &KeyFileError{path, fmt.Sprintf("%d bytes is too large for a key file (max %d)", len(data), MaxKeyFileSize)}
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, &KeyFileError{path, "not a PEM file (expected -----BEGIN " + KeyFilePEMType + "-----)"}
	}
	if block.Type != KeyFilePEMType {
		return nil, &KeyFileError{path, fmt.Sprintf("PEM block is %q, want %q", block.Type, KeyFilePEMType)}
	}
	if len(block.Headers) != 0 {
		return nil, &KeyFileError{path, "PEM block has headers; peerwire key files have none"}
	}
	if len(block.Bytes) != ed25519.SeedSize {
		return nil, &KeyFileError{path, fmt.Sprintf("key is %d bytes, want %d", len(block.Bytes), ed25519.SeedSize)}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, &KeyFileError{path, "trailing data after the key block"}
	}
	return IdentityFromSeed(block.Bytes)
}

// LoadKeyFile reads a key file, refusing one that others can read or write
// (permissions must be 0600 or stricter).
func LoadKeyFile(path string) (*Identity, error) {
	// O_NONBLOCK: opening a named pipe must not wait for a writer; the
	// type check below then refuses it. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("crypto: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("crypto: key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &KeyFileError{path, "not a regular file"}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, &KeyFileError{path, fmt.Sprintf("unsafe permissions %04o: others can read it; run chmod 600", perm)}
	}
	if st.Size() > MaxKeyFileSize {
		return nil, &KeyFileError{path, fmt.Sprintf("%d bytes is too large for a key file (max %d)", st.Size(), MaxKeyFileSize)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: key file: %w", err)
	}
	return ParseKeyFile(path, data)
}

// SaveKeyFile writes k to path with permissions 0600, atomically (a temporary
// file in the same directory, fsync, rename). It returns ErrKeyFileExists if
// path exists and overwrite is false.
func SaveKeyFile(path string, k *Identity, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%w: %s", ErrKeyFileExists, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("crypto: key file: %w", err)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("crypto: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("crypto: key file: %w", err)
	}
	if _, err := tmp.Write(MarshalKeyFile(k)); err != nil {
		tmp.Close()
		return fmt.Errorf("crypto: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("crypto: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("crypto: key file: %w", err)
	}
	if !overwrite {
		// Link fails if path appeared meanwhile, so a racing writer is not clobbered.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s", ErrKeyFileExists, path)
			}
			return fmt.Errorf("crypto: key file: %w", err)
		}
	} else if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("crypto: key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LoadOrCreateKeyFile loads the key at path, or creates one there if no file
// exists. created reports which happened. When several callers race to create
// the file, one creates it and the others load that key.
func LoadOrCreateKeyFile(path string) (k *Identity, created bool, err error) {
	k, err = LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if k, err = GenerateIdentity(nil); err != nil {
		return nil, false, err
	}
	if err := SaveKeyFile(path, k, false); err != nil {
		if errors.Is(err, ErrKeyFileExists) {
			// Another writer won; SaveKeyFile links only a complete,
			// synced file into place, so its key can be loaded now.
			k, err = LoadKeyFile(path)
			return k, false, err
		}
		return nil, false, err
	}
	return k, true, nil
}
