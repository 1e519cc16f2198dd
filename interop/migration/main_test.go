package migration

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// The crash test's child process: write until killed.
		runChild()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
