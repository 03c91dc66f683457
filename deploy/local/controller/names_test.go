package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"hello", true},
		{"a", true},
		{"_", true},
		{"my action", true},
		{"a@b", true},
		{"v1.2&x-y", true},
		{"name@", true},
		{"@name", false},
		{"trailing ", false},
		{" leading", false},
		{"sl/ash", false},
		{"", false},
		{"ümlaut", false},
		{"bang!", false},
		{strings.Repeat("x", 256), true},
		{strings.Repeat("x", 257), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.ok, validName(c.name))
		})
	}
}

func TestCheckNameMessages(t *testing.T) {
	cases := []struct {
		name string
		msg  string
	}{
		{"ok", ""},
		{"bad!", msgEntityNameIllegal},
		{strings.Repeat("x", 300), "Name segement longer than allowed: 300 > 256."},
	}
	for _, c := range cases {
		t.Run(c.name[:min(len(c.name), 10)], func(t *testing.T) {
			err := checkName(c.name)
			if c.msg == "" {
				require.NoError(t, err)
				return
			}
			ae := asAPIError(err)
			require.Equal(t, 400, ae.status)
			require.Equal(t, c.msg, ae.msg)
		})
	}
}

func TestParseFQN(t *testing.T) {
	cases := []struct {
		in   string
		want fqn
		ok   bool
	}{
		{"/guest/hello", fqn{"guest", "hello"}, true},
		{"/guest/pkg/hello", fqn{"guest/pkg", "hello"}, true},
		{"/_/hello", fqn{"_", "hello"}, true},
		{"hello", fqn{"ns", "hello"}, true},
		{"pkg/hello", fqn{"ns/pkg", "hello"}, true},
		{"other/pkg/hello", fqn{"other/pkg", "hello"}, true},
		{"/guest", fqn{}, false},
		{"/a/b/c/d", fqn{}, false},
		{"/guest/bad!", fqn{}, false},
		{"", fqn{}, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := parseFQN(c.in, "ns")
			require.Equal(t, c.ok, ok)
			if ok {
				require.Equal(t, c.want, got)
			}
		})
	}
}

func TestFQN(t *testing.T) {
	cases := []struct {
		in                      fqn
		resolved                fqn
		docid, slash, root, pkg string
	}{
		{fqn{"_", "a"}, fqn{"guest", "a"}, "_/a", "/_/a", "_", ""},
		{fqn{"_/p", "a"}, fqn{"guest/p", "a"}, "_/p/a", "/_/p/a", "_", "p"},
		{fqn{"other/p", "a"}, fqn{"other/p", "a"}, "other/p/a", "/other/p/a", "other", "p"},
	}
	for _, c := range cases {
		t.Run(c.docid, func(t *testing.T) {
			require.Equal(t, c.resolved, c.in.resolveNS("guest"))
			require.Equal(t, c.docid, c.in.DocID())
			require.Equal(t, c.slash, c.in.Slash())
			require.Equal(t, c.root, c.in.Root())
			require.Equal(t, c.pkg, c.in.Package())
		})
	}
	require.Equal(t, fqn{"guest/p", "a"}, splitDocID("guest/p/a"))
}

func TestValidActivationID(t *testing.T) {
	cases := []struct {
		id  string
		msg string
	}{
		{"0123456789abcdef0123456789abcdef", ""},
		{"0123456789ABCDEF0123456789abcdef", msgActivationIDIllegal},
		{"abc", "ID length is 3 but must be 32."},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			err := validActivationID(c.id)
			if c.msg == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, c.msg, asAPIError(err).msg)
		})
	}
	require.Regexp(t, activationIDPattern, newActivationID())
	tid := newTID()
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, tid)
}
