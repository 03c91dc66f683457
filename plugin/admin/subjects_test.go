package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/subjects"
)

// identifierFunc is an Identifier (plugin/subjects tests the real one
// against a subjects database).
type identifierFunc func(ctx context.Context, uuid, key string) (subjects.Identity, error)

func (f identifierFunc) Identify(ctx context.Context, uuid, key string) (subjects.Identity, error) {
	return f(ctx, uuid, key)
}

// TestSubjectsAuthenticator: a key the subjects database knows gives its
// subject's identity; one it does not know is ErrUnauthenticated (401); a
// database that cannot answer is another error (503), never a pass.
func TestSubjectsAuthenticator(t *testing.T) {
	down := errors.New("subjects: query whisk_local_subjects/_design/subjects.v2.0.0/_view/identities: 500 down")
	for _, tc := range []struct {
		name     string
		identify identifierFunc
		want     Identity
		wantErr  error
	}{
		{"known key", func(context.Context, string, string) (subjects.Identity, error) {
			return subjects.Identity{Subject: "guest", Namespace: "guest-two", Namespaces: []string{"guest", "guest-two"}}, nil
		}, Identity{Subject: "guest", Namespace: "guest-two", Namespaces: []string{"guest", "guest-two"}}, nil},
		{"unknown or blocked key", func(context.Context, string, string) (subjects.Identity, error) {
			return subjects.Identity{}, fmt.Errorf("%w: the subject no longer holds the key", subjects.ErrUnknownKey)
		}, Identity{}, ErrUnauthenticated},
		{"database down", func(context.Context, string, string) (subjects.Identity, error) {
			return subjects.Identity{}, down
		}, Identity{}, down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := NewSubjectsAuthenticator(tc.identify).Authenticate(context.Background(), guestUUID, guestKey)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				if tc.wantErr == down {
					require.NotErrorIs(t, err, ErrUnauthenticated, "a database failure is not a bad key")
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, id)
			require.False(t, id.Admin, "a subject's key is never the admin token")
		})
	}
}
