package logstore_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	if os.Getenv(damageChildEnv) != "" {
		damageChild()
		return
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { removeCrashedStores() }))
}
