package batch

import (
	"math"
	"strings"
)

// MaxIDLength is the longest pool, job or task ID Azure Batch accepts.
const MaxIDLength = 64

// MaxDisplayNameLength is the longest display name Azure Batch accepts (in characters).
const MaxDisplayNameLength = 1024

// ValidID reports whether id is a valid pool, job or task ID by Azure's rules: 1 to 64 characters,
// each an ASCII letter, a digit, a hyphen or an underscore.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// validateID checks id for the property named property ("id", "poolInfo.poolId"…).
func validateID(property, id string) *Error {
	if id == "" {
		return missing(property)
	}
	if !ValidID(id) {
		return invalid(property, id,
			"an ID is 1 to 64 characters: letters, digits, hyphens and underscores")
	}
	return nil
}

// IDKey returns the key under which an ID is unique. Azure Batch IDs are case-preserving but
// case-insensitive ("Task1" and "task1" cannot both exist in one job), so the key is the ID in
// lower case; store and compare keys, show IDs.
func IDKey(id string) string {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(id)
		}
	}
	return id
}

// TaskIDValue returns the integer a task ID stands for in a task ID range, and whether it stands
// for one. Azure's rule: only IDs that are the decimal form of an integer are selected by a range,
// and leading zeros do not count ("4", "04" and "004" are all 4); "5flamingoes" is in no range.
// Corral also requires the value to fit in an int32, like the bounds of a range.
func TaskIDValue(id string) (int32, bool) {
	if id == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		if v > math.MaxInt32 {
			return 0, false
		}
	}
	return int32(v), true
}

// Contains reports whether the range covers the task with the given ID.
func (r TaskIDRange) Contains(id string) bool {
	v, ok := TaskIDValue(id)
	return ok && v >= r.Start && v <= r.End
}
