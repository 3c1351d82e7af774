package compute

// ValidID reports whether id may name a pool or node in a file name: 1 to 255 of [A-Za-z0-9_-]
// (the characters Azure Batch allows in pool ids), so that it can never be empty, ".", "..", or
// hold a separator. Providers that keep files per node refuse other ids.
func ValidID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
