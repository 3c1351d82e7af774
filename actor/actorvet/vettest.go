package actorvet

import "testing"

// Test is for use in a package's own test: actorvet.Test(t, ".") reports every finding in each
// of dirs with t.Errorf (one call per finding) and fails with t.Fatalf if Check errors. With no
// dirs it checks ".", the directory of the package under test.
func Test(t testing.TB, dirs ...string) {
	t.Helper()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	for _, dir := range dirs {
		findings, err := Check(dir)
		if err != nil {
			t.Fatalf("%v", err)
			return // Fatalf stops a real test; the return keeps fakes from carrying on.
		}
		for _, f := range findings {
			t.Errorf("%s", f)
		}
	}
}
