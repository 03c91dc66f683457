package entity

import (
	"regexp"
	"strings"
)

// entityName is OpenWhisk's EntityName.REGEX: letters, digits, '_' first;
// then also '@', ' ', '.', '&', '-'; not ending in a space; 256 at most.
var entityName = regexp.MustCompile(`\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`)

// ValidName reports whether s is a valid OpenWhisk entity name segment.
func ValidName(s string) bool { return entityName.MatchString(s) }

// ValidPath reports whether p ("name" or "pkg/name") is a valid action path
// inside a namespace.
func ValidPath(p string) bool {
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		return false
	}
	for _, s := range parts {
		if !ValidName(s) {
			return false
		}
	}
	return true
}
