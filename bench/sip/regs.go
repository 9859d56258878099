package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// regUser is one registering user: its extension (the digest username and AOR user) and its
// password. The same users exist in ccswitch's bench config and in Kamailio's credentials.
type regUser struct{ name, password string }

// makeUsers returns n users "r00000"… with random passwords.
func makeUsers(n int) []regUser {
	users := make([]regUser, n)
	b := make([]byte, 8*n)
	rand.Read(b)
	for i := range users {
		users[i] = regUser{name: fmt.Sprintf("r%05d", i), password: hex.EncodeToString(b[8*i : 8*i+8])}
	}
	return users
}

// regFiles are the registration scenario and the per-step injection files.
type regFiles struct {
	scenario string
	dir      string
}

func writeRegFiles(tmp string, users []regUser) (regFiles, error) {
	f := regFiles{scenario: filepath.Join(tmp, "register-digest.xml"), dir: tmp}
	b, _ := assets.ReadFile("register-digest.xml")
	return f, os.WriteFile(f.scenario, b, 0o644)
}

// writeInjection writes a SIPp injection file (SEQUENTIAL) of every user, starting at user
// offset (so that consecutive steps register different users) with the credentials in the
// second field: "r00042;[authentication username=r00042 password=…]".
func writeInjection(path string, users []regUser, offset int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("SEQUENTIAL\n")
	for i := range users {
		u := users[(offset+i)%len(users)]
		fmt.Fprintf(w, "%s;[authentication username=%s password=%s]\n", u.name, u.name, u.password)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeKamailioCreds writes the db_text folder Kamailio's htable "creds" loads at start: one
// row per user (key_type 0, value_type 0: a string value, the password).
func writeKamailioCreds(dir string, users []regUser) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("table_name(string) table_version(int)\nhtable:2\n"), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "creds"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)\n")
	for i, u := range users {
		fmt.Fprintf(w, "%d:%s:0:0:%s:0\n", i+1, u.name, u.password)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
