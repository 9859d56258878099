package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/sip"
)

// usersCSV writes a SIPp injection file: extension; [authentication ...] keyword.
func usersCSV(t testing.TB, pairs ...[2]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, p := range pairs {
		fmt.Fprintf(&b, "%s;[authentication username=%s password=%s]\n", p[0], p[0], p[1])
	}
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSIPpRegisterSeveralUsers: five extensions register with digest through SIPp; the
// registrar then holds one binding each.
func TestSIPpRegisterSeveralUsers(t *testing.T) {
	ts := startServer(t, testConfig(), "", sip.WithDigestAlgorithms("MD5"))
	var pairs [][2]string
	for i := 1001; i <= 1005; i++ {
		pairs = append(pairs, [2]string{fmt.Sprint(i), fmt.Sprintf("secret%d", i)})
	}
	csv := usersCSV(t, pairs...)
	port := testenv.FreePort(t)
	r := startSIPp(t, "register", append(sippArgs("register.xml", port, "-inf", csv, "-m", "5", "-l", "1"), ts.addr)...)
	r.wait(t)
	for i := 1001; i <= 1005; i++ {
		got := ts.Registrar().Lookup(fmt.Sprint(i))
		if len(got) != 1 {
			t.Fatalf("%d: %d bindings, want 1", i, len(got))
		}
		if want := fmt.Sprintf("sip:%d@127.0.0.1:%d", i, port); got[0].Contact != want {
			t.Errorf("%d: contact %q, want %q", i, got[0].Contact, want)
		}
	}
}
