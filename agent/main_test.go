package agent

import (
	"os"
	"testing"

	"corral/internal/azurite"
)

// TestMain stops the Azurite that the resource and output file tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	azurite.StopShared()
	os.Exit(code)
}
