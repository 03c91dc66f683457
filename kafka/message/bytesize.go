package message

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// ParseByteSize parses an OpenWhisk ByteSize string ("2147483648 B",
// "2048 MB", "2048m", "1 G") into bytes. Units: B, K[B], M[B], G[B], any case.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("message: byte size %q: not a number", s)
	}
	var mult int64
	switch strings.TrimSuffix(unit, "B") {
	case "":
		mult = 1
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("message: byte size %q: unknown unit %q", s, unit)
	}
	if unit == "" || unit == "B" {
		mult = 1
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("message: byte size %q: too large", s)
	}
	return n * mult, nil
}

// FormatBytes renders n bytes the way the invoker writes userMemory.
func FormatBytes(n int64) string { return strconv.FormatInt(n, 10) + " B" }
