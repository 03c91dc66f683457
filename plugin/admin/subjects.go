package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/fnmgr/fnmgr/plugin/subjects"
)

// Identifier tells who holds a key; *subjects.Source (OpenWhisk's subjects
// database) is the one fnmgr uses. It returns subjects.ErrUnknownKey
// (possibly wrapped) for a key no subject that is not blocked holds, and
// any other error when it cannot tell.
type Identifier interface {
	Identify(ctx context.Context, uuid, key string) (subjects.Identity, error)
}

// SubjectsAuthenticator authenticates keys against OpenWhisk's subjects
// database through an Identifier: the key reaches the namespaces of the
// subject that holds it. A database that cannot answer refuses the request
// (the error is not ErrUnauthenticated, so the caller answers 503, not
// 401). It is safe for concurrent use when the Identifier is.
type SubjectsAuthenticator struct {
	subjects Identifier
}

// NewSubjectsAuthenticator authenticates through src.
func NewSubjectsAuthenticator(src Identifier) *SubjectsAuthenticator {
	return &SubjectsAuthenticator{subjects: src}
}

// Authenticate implements Authenticator.
func (s *SubjectsAuthenticator) Authenticate(ctx context.Context, uuid, key string) (Identity, error) {
	id, err := s.subjects.Identify(ctx, uuid, key)
	switch {
	case errors.Is(err, subjects.ErrUnknownKey):
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	case err != nil:
		return Identity{}, fmt.Errorf("admin: %w", err)
	}
	return Identity{Subject: id.Subject, Namespace: id.Namespace, Namespaces: id.Namespaces}, nil
}
