package admin

import (
	"context"
	"errors"
	"slices"
)

// ErrUnauthenticated is what an Authenticator returns for a key that does
// not exist or belongs to a blocked subject. Callers answer 401.
var ErrUnauthenticated = errors.New("admin: unknown or blocked key")

// Authenticator resolves an OpenWhisk subject key (the "uuid:key" that wsk
// sends as Basic credentials) to its identity.
//
// Authenticate returns ErrUnauthenticated (possibly wrapped) when the key is
// unknown or its subject blocked, and any other error when it cannot tell
// (the subjects database is unreachable). Errors must not contain the key.
// Implementations are safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, uuid, key string) (Identity, error)
}

// Identity is who a request acts as.
type Identity struct {
	// Subject is the OpenWhisk subject; "" for the admin token.
	Subject string
	// Namespace is the namespace the key was issued for; "_" in a path
	// means this namespace. "" for the admin token.
	Namespace string
	// Namespaces are every namespace the subject owns.
	Namespaces []string
	// Admin is true for the admin token, which reaches every namespace.
	Admin bool
}

// Entitled reports whether id may act in namespace ns.
func (id Identity) Entitled(ns string) bool {
	return id.Admin || slices.Contains(id.Namespaces, ns)
}

type identityKey struct{}

func withIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the authentication middleware attached
// to ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
