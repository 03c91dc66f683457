package controller

import (
	"regexp"
	"strconv"
	"strings"
)

// maxNameLength is EntityName.ENTITY_NAME_MAX_LENGTH.
const maxNameLength = 256

// defaultNS is the path segment meaning the caller's own namespace.
const defaultNS = "_"

// nameRegexp is EntityName.REGEX: \w is ASCII, @ allowed but not first,
// space allowed in the middle only.
var nameRegexp = regexp.MustCompile(`\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`)

// validName reports whether s is a valid entity name (or namespace).
func validName(s string) bool { return nameRegexp.MatchString(s) }

// checkName returns the 400 OpenWhisk answers for an invalid name segment.
func checkName(s string) error {
	if validName(s) {
		return nil
	}
	if len(s) > maxNameLength {
		return badRequest(msgNameTooLong(len(s)))
	}
	return badRequest(msgEntityNameIllegal)
}

// fqn is a fully qualified entity name: path (namespace or namespace/package)
// and name.
type fqn struct {
	Path string
	Name string
}

// DocID is the CouchDB document id: path/name.
func (f fqn) DocID() string { return f.Path + "/" + f.Name }

// String renders path/name (no leading slash).
func (f fqn) String() string { return f.DocID() }

// Slash renders /path/name, the form of sequence components.
func (f fqn) Slash() string { return "/" + f.DocID() }

// Root is the namespace of the path.
func (f fqn) Root() string {
	root, _, _ := strings.Cut(f.Path, "/")
	return root
}

// Package is the package segment of the path, "" for the default package.
func (f fqn) Package() string {
	_, pkg, _ := strings.Cut(f.Path, "/")
	return pkg
}

// resolveNS replaces the default namespace "_" with ns.
func (f fqn) resolveNS(ns string) fqn {
	root, rest, hasRest := strings.Cut(f.Path, "/")
	if root != defaultNS {
		return f
	}
	if hasRest {
		return fqn{Path: ns + "/" + rest, Name: f.Name}
	}
	return fqn{Path: ns, Name: f.Name}
}

// parseFQN parses an entity reference as a client sends it: "/ns/name",
// "/ns/pkg/name", or without the leading slash "ns/name" / "ns/pkg/name";
// a bare "name" or "pkg/name" lives in defaultNamespace (OpenWhisk's
// FullyQualifiedEntityName deserializer and EntityPath rules).
func parseFQN(s, defaultNamespace string) (fqn, bool) {
	leading := strings.HasPrefix(s, "/")
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	for _, p := range parts {
		if !validName(p) && p != defaultNS {
			return fqn{}, false
		}
	}
	switch {
	case leading && len(parts) == 2:
		return fqn{Path: parts[0], Name: parts[1]}, true
	case leading && len(parts) == 3:
		return fqn{Path: parts[0] + "/" + parts[1], Name: parts[2]}, true
	case !leading && len(parts) == 1:
		return fqn{Path: defaultNamespace, Name: parts[0]}, validName(parts[0])
	case !leading && len(parts) == 2:
		return fqn{Path: defaultNamespace + "/" + parts[0], Name: parts[1]}, true
	case !leading && len(parts) == 3:
		return fqn{Path: parts[0] + "/" + parts[1], Name: parts[2]}, true
	}
	return fqn{}, false
}

// splitDocID splits a docid "ns/name" or "ns/pkg/name" into an fqn.
func splitDocID(id string) fqn {
	i := strings.LastIndex(id, "/")
	if i < 0 {
		return fqn{Name: id}
	}
	return fqn{Path: id[:i], Name: id[i+1:]}
}

// validActivationID returns the error OpenWhisk answers for a malformed
// activation id, or nil.
func validActivationID(id string) error {
	if len(id) != 32 {
		return badRequest("ID length is " + strconv.Itoa(len(id)) + " but must be 32.")
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return badRequest(msgActivationIDIllegal)
		}
	}
	return nil
}
