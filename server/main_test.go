package server

import (
	"os"
	"testing"

	"corral/internal/azurite"
)

// TestMain stops the Azurite that the tests of node logs share.
func TestMain(m *testing.M) {
	code := m.Run()
	azurite.StopShared()
	os.Exit(code)
}
